/**
 * The `cluster` setting: which NATS servers to join, as whom, under which cluster name and
 * node id. From the command line (`--cluster nats://host:4222[,nats://…]`) or the config file
 * (`cluster: { servers: [...], name, node, user, pass, token, tls: { ca, cert, key } }`).
 */
import { hostname } from 'node:os'
import { isAbsolute, resolve } from 'node:path'

export interface ClusterSpec {
  /** `nats://host:port` or `tls://host:port` URLs of the NATS servers (at least one). */
  servers: string[]
  /** Cluster name: the prefix of every NATS subject, stream and bucket (default `tmq`). */
  name?: string | undefined
  /** This node's id, unique in the cluster (default: host name and MQTT port). */
  node?: string | undefined
  user?: string | undefined
  pass?: string | undefined
  token?: string | undefined
  /** TLS to NATS: PEM files (CA to check the server, client certificate and key); `true` or `{}`: system CAs. */
  tls?: { ca?: string | undefined; cert?: string | undefined; key?: string | undefined } | boolean | undefined
  /** Replicas of the retained-message stream when this node creates it (1, 3 or 5; default 1). */
  replicas?: number | undefined
  /**
   * The scripts lease in seconds (default 6): a node running the scripts that dies is
   * replaced 1 to 1⅔ lease times after its last renewal (docs/cluster.md).
   */
  leaseSeconds?: number | undefined
  /**
   * How long after its last heartbeat a node counts as dead (default 6; heartbeats every
   * third of it), used by whichever node creates the presence bucket first.
   */
  presenceSeconds?: number | undefined
}

const URL_RE = /^(nats|tls):\/\/[^\s/]+$/

/** The servers of a `--cluster` argument: comma-separated URLs. */
export function clusterSpecFromArg(arg: string): ClusterSpec {
  const servers = arg
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  if (servers.length === 0 || !servers.every((s) => URL_RE.test(s)))
    throw new Error('--cluster takes nats://host:port URLs, comma-separated')
  return { servers }
}

/** Checks a config file's `cluster` value; TLS file paths are taken relative to `dir`. */
export function parseClusterSpec(value: unknown, where: string, dir: string): ClusterSpec {
  const bad = (what: string): Error => new Error(`${where}: "cluster" ${what}`)
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('must be an object')
  const o = value as Record<string, unknown>
  const known = [
    'servers',
    'name',
    'node',
    'user',
    'pass',
    'token',
    'tls',
    'replicas',
    'leaseSeconds',
    'presenceSeconds',
  ]
  for (const key of Object.keys(o)) if (!known.includes(key)) throw bad(`has an unknown key "${key}"`)
  const servers = typeof o.servers === 'string' ? [o.servers] : o.servers
  if (
    !Array.isArray(servers) ||
    servers.length === 0 ||
    !servers.every((s): s is string => typeof s === 'string' && URL_RE.test(s))
  )
    throw bad('needs "servers": nats://host:port URLs')
  const text = (key: string): string | undefined => {
    const v = o[key]
    if (v === undefined) return undefined
    if (typeof v !== 'string' || v === '') throw bad(`"${key}" must be a non-empty string`)
    return v
  }
  const spec: ClusterSpec = { servers }
  const name = text('name')
  if (name !== undefined) {
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(name)) throw bad('"name" must be 1–32 of A-Z a-z 0-9 _ -')
    spec.name = name
  }
  spec.node = text('node')
  spec.user = text('user')
  spec.pass = text('pass')
  spec.token = text('token')
  if (o.replicas !== undefined) {
    if (o.replicas !== 1 && o.replicas !== 3 && o.replicas !== 5) throw bad('"replicas" must be 1, 3 or 5')
    spec.replicas = o.replicas
  }
  if (o.leaseSeconds !== undefined) {
    if (typeof o.leaseSeconds !== 'number' || !(o.leaseSeconds >= 1 && o.leaseSeconds <= 3600))
      throw bad('"leaseSeconds" must be a number of seconds from 1 to 3600')
    spec.leaseSeconds = o.leaseSeconds
  }
  if (o.presenceSeconds !== undefined) {
    if (typeof o.presenceSeconds !== 'number' || !(o.presenceSeconds >= 1 && o.presenceSeconds <= 3600))
      throw bad('"presenceSeconds" must be a number of seconds from 1 to 3600')
    spec.presenceSeconds = o.presenceSeconds
  }
  if (o.tls !== undefined) spec.tls = parseTls(o.tls, bad, dir)
  return spec
}

function parseTls(v: unknown, bad: (what: string) => Error, dir: string): ClusterSpec['tls'] {
  if (typeof v === 'boolean') return v
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('"tls" must be true or an object')
  const t = v as Record<string, unknown>
  const out: { ca?: string; cert?: string; key?: string } = {}
  for (const key of Object.keys(t)) {
    if (key !== 'ca' && key !== 'cert' && key !== 'key') throw bad(`"tls" has an unknown key "${key}"`)
    const file = t[key]
    if (typeof file !== 'string' || file === '') throw bad(`"tls.${key}" must be a file path`)
    out[key] = isAbsolute(file) ? file : resolve(dir, file)
  }
  if ((out.cert === undefined) !== (out.key === undefined)) throw bad('"tls" needs both "cert" and "key"')
  return out
}

/** The node id when none is given: host name and MQTT port, stable across restarts. */
export function defaultNodeId(port: number): string {
  return `${hostname()}-${port}`
}
