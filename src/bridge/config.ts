import { hostname } from 'node:os'
import { isAbsolute, resolve } from 'node:path'
import { isValidFilter, topicNameError } from '../broker/topic-rules.ts'
import type { QoS } from '../broker/types.ts'

export type BridgeDirection = 'in' | 'out' | 'both'

/** One `topic <pattern> <direction> <qos> <local prefix> <remote prefix>` line of Mosquitto. */
export interface BridgeTopicSpec {
  pattern: string
  /** Default `out`, as in Mosquitto. */
  direction?: BridgeDirection
  /** Subscription QoS on the side messages come from (default 0). */
  qos?: QoS
  localPrefix?: string
  remotePrefix?: string
}

/** TLS towards the remote broker; file paths are PEM files. */
export interface BridgeTlsSpec {
  ca?: string
  cert?: string
  key?: string
  /** Check the remote's certificate (default true). */
  rejectUnauthorized?: boolean
  /** Name to check the certificate against, when it differs from the address's host. */
  servername?: string
}

/** A bridge as the config file and the embedding option `bridges` give it. */
export interface BridgeSpec {
  /** Names the bridge in logs, status and the local state topic. */
  name: string
  /** `host:port` of the remote broker; `addresses` lists several, tried in turn. */
  address?: string
  addresses?: string[]
  /** TLS towards the remote; `true` uses the system's CAs. */
  tls?: BridgeTlsSpec | boolean
  /** Remote client id (default `<hostname>.<name>`, as Mosquitto's remote_clientid). */
  clientId?: string
  /** Client id of the bridge's session on this broker (default `local.<clientId>`). */
  localClientId?: string
  username?: string
  password?: string
  /**
   * Log in to this broker as this user (the ACL then applies to the bridge). Unset: the bridge
   * is trusted, as Mosquitto's bridges are without local_username.
   */
  localUsername?: string
  localPassword?: string
  /** Default false: both sides keep sessions, so nothing is lost across a reconnect. */
  cleanSession?: boolean
  /** Seconds (default 60). */
  keepalive?: number
  /** MQTT version towards the remote: 3, 4 (default) or 5. */
  protocolVersion?: 3 | 4 | 5
  /** MQTT 3.x: announce a bridge (protocol level | 0x80) so the remote does not echo (default true). */
  tryPrivate?: boolean
  /** Publish the connection state (retained 1/0) locally and on the remote (default true). */
  notifications?: boolean
  notificationsLocalOnly?: boolean
  /** First reconnect delay in seconds (default 5). */
  reconnectDelay?: number
  /** Longest reconnect delay in seconds (default 30). */
  reconnectDelayMax?: number
  topics: BridgeTopicSpec[]
}

export interface BridgeTopic {
  pattern: string
  direction: BridgeDirection
  qos: QoS
  localPrefix: string
  remotePrefix: string
}

export interface BridgeAddress {
  host: string
  port: number
}

/** A checked bridge with its defaults filled in. */
export interface BridgeConfig {
  name: string
  addresses: BridgeAddress[]
  tls: BridgeTlsSpec | undefined
  clientId: string
  localClientId: string
  username: string | undefined
  password: string | undefined
  localUsername: string | undefined
  localPassword: string | undefined
  cleanSession: boolean
  keepalive: number
  protocolVersion: 3 | 4 | 5
  tryPrivate: boolean
  notifications: boolean
  notificationsLocalOnly: boolean
  reconnectDelayMs: number
  reconnectDelayMaxMs: number
  topics: BridgeTopic[]
}

const bridgeKeys = new Set([
  'name',
  'address',
  'addresses',
  'tls',
  'clientId',
  'localClientId',
  'username',
  'password',
  'localUsername',
  'localPassword',
  'cleanSession',
  'keepalive',
  'protocolVersion',
  'tryPrivate',
  'notifications',
  'notificationsLocalOnly',
  'reconnectDelay',
  'reconnectDelayMax',
  'topics',
])
const stringKeys = ['clientId', 'localClientId', 'username', 'password', 'localUsername', 'localPassword']
const booleanKeys = ['cleanSession', 'tryPrivate', 'notifications', 'notificationsLocalOnly']
const topicKeys = new Set(['pattern', 'direction', 'qos', 'localPrefix', 'remotePrefix'])
const tlsKeys = new Set(['ca', 'cert', 'key', 'rejectUnauthorized', 'servername'])

/**
 * Validates the config file's `bridges` array. TLS file paths are made absolute against
 * `baseDir` (the config file's folder). Errors name the bridge entry and the key.
 */
export function parseBridgeSpecs(value: unknown, where: string, baseDir: string): BridgeSpec[] {
  if (!Array.isArray(value)) throw new Error(`${where}: "bridges" must be an array`)
  const specs = value.map((entry: unknown, i) => {
    const spec = checkShape(entry, `${where}: bridges[${i}]`)
    if (typeof spec.tls === 'object') spec.tls = withBaseDir(spec.tls, baseDir)
    return spec
  })
  resolveBridges(specs, where)
  return specs
}

/** Checks specs (from the file or an embedder) and fills in the defaults; names must be unique. */
export function resolveBridges(specs: readonly BridgeSpec[], where = 'bridges'): BridgeConfig[] {
  const configs = specs.map((spec, i) => resolveBridge(spec, `${where}[${i}]`))
  const seen = new Set<string>()
  for (const config of configs) {
    if (seen.has(config.name)) throw new Error(`${where}: two bridges are named "${config.name}"`)
    seen.add(config.name)
  }
  return configs
}

function checkShape(entry: unknown, where: string): BridgeSpec {
  const record = asRecord(entry, where)
  for (const [key, item] of Object.entries(record)) {
    if (!bridgeKeys.has(key)) throw new Error(`${where}: unknown setting "${key}"`)
    if (stringKeys.includes(key) && typeof item !== 'string')
      throw new Error(`${where}: "${key}" must be a string`)
    if (booleanKeys.includes(key) && typeof item !== 'boolean') {
      throw new Error(`${where}: "${key}" must be true or false`)
    }
  }
  if (record.tls !== undefined && typeof record.tls !== 'boolean') {
    for (const [key, item] of Object.entries(asRecord(record.tls, `${where}: "tls"`))) {
      if (!tlsKeys.has(key)) throw new Error(`${where}: unknown TLS setting "${key}"`)
      const ok = key === 'rejectUnauthorized' ? typeof item === 'boolean' : typeof item === 'string'
      if (!ok) throw new Error(`${where}: TLS setting "${key}" has the wrong type`)
    }
  }
  if (!Array.isArray(record.topics)) throw new Error(`${where}: "topics" must be an array`)
  record.topics.forEach((topic: unknown, i) => {
    for (const key of Object.keys(asRecord(topic, `${where}: topics[${i}]`))) {
      if (!topicKeys.has(key)) throw new Error(`${where}: topics[${i}]: unknown setting "${key}"`)
    }
  })
  return record as unknown as BridgeSpec
}

function resolveBridge(spec: BridgeSpec, where: string): BridgeConfig {
  const name = spec.name
  if (typeof name !== 'string' || name === '' || /[/+#]/.test(name) || name.includes('\u0000')) {
    throw new Error(`${where}: "name" must be a non-empty string without "/", "+" or "#"`)
  }
  const at = `${where} (bridge "${name}")`
  const tls = spec.tls === true ? {} : spec.tls === false ? undefined : spec.tls
  const defaultPort = tls ? 8883 : 1883
  const list = spec.addresses ?? (spec.address === undefined ? [] : [spec.address])
  if (spec.address !== undefined && spec.addresses !== undefined) {
    throw new Error(`${at}: give "address" or "addresses", not both`)
  }
  if (!Array.isArray(list) || list.length === 0)
    throw new Error(`${at}: "address" (or "addresses") is required`)
  const addresses = list.map((a) => parseAddress(a, defaultPort, at))
  const clientId = spec.clientId ?? `${hostname()}.${name}`
  const protocolVersion = spec.protocolVersion ?? 4
  if (protocolVersion !== 3 && protocolVersion !== 4 && protocolVersion !== 5) {
    throw new Error(`${at}: "protocolVersion" must be 3, 4 or 5`)
  }
  if (!Array.isArray(spec.topics) || spec.topics.length === 0) {
    throw new Error(`${at}: "topics" must list at least one topic`)
  }
  if (spec.localPassword !== undefined && spec.localUsername === undefined) {
    throw new Error(`${at}: "localPassword" needs "localUsername"`)
  }
  const reconnectDelay = seconds(spec.reconnectDelay, 5, 'reconnectDelay', at)
  const reconnectDelayMax = seconds(
    spec.reconnectDelayMax,
    Math.max(30, reconnectDelay),
    'reconnectDelayMax',
    at,
  )
  if (reconnectDelayMax < reconnectDelay)
    throw new Error(`${at}: "reconnectDelayMax" is below "reconnectDelay"`)
  const keepalive = spec.keepalive ?? 60
  if (!Number.isInteger(keepalive) || keepalive < 0 || keepalive > 65_535) {
    throw new Error(`${at}: "keepalive" must be an integer from 0 to 65535`)
  }
  return {
    name,
    addresses,
    tls,
    clientId,
    localClientId: spec.localClientId ?? `local.${clientId}`,
    username: spec.username,
    password: spec.password,
    localUsername: spec.localUsername,
    localPassword: spec.localPassword,
    cleanSession: spec.cleanSession ?? false,
    keepalive,
    protocolVersion,
    tryPrivate: spec.tryPrivate ?? true,
    notifications: spec.notifications ?? true,
    notificationsLocalOnly: spec.notificationsLocalOnly ?? false,
    reconnectDelayMs: reconnectDelay * 1000,
    reconnectDelayMaxMs: reconnectDelayMax * 1000,
    topics: spec.topics.map((t, i) => resolveTopic(t, `${at}: topics[${i}]`)),
  }
}

/** Mosquitto's rules: prefixes hold no wildcards; an empty pattern maps one topic to another. */
function resolveTopic(spec: BridgeTopicSpec, where: string): BridgeTopic {
  const { pattern } = spec
  const direction = spec.direction ?? 'out'
  const qos = spec.qos ?? 0
  const localPrefix = spec.localPrefix ?? ''
  const remotePrefix = spec.remotePrefix ?? ''
  if (typeof pattern !== 'string') throw new Error(`${where}: "pattern" must be a string`)
  if (direction !== 'in' && direction !== 'out' && direction !== 'both') {
    throw new Error(`${where}: "direction" must be in, out or both`)
  }
  if (qos !== 0 && qos !== 1 && qos !== 2) throw new Error(`${where}: "qos" must be 0, 1 or 2`)
  for (const [key, prefix] of [
    ['localPrefix', localPrefix],
    ['remotePrefix', remotePrefix],
  ] as const) {
    if (typeof prefix !== 'string') throw new Error(`${where}: "${key}" must be a string`)
    if (prefix !== '' && topicNameError(prefix) !== undefined) {
      throw new Error(`${where}: "${key}" must be a topic without wildcards`)
    }
  }
  if (pattern === '') {
    if (localPrefix === '' || remotePrefix === '') {
      throw new Error(
        `${where}: an empty "pattern" needs both "localPrefix" and "remotePrefix" (whole topics)`,
      )
    }
  } else if (!isValidFilter(localPrefix + pattern) || !isValidFilter(remotePrefix + pattern)) {
    throw new Error(`${where}: "pattern" with its prefixes is not a valid topic filter`)
  }
  return { pattern, direction, qos, localPrefix, remotePrefix }
}

function parseAddress(value: unknown, defaultPort: number, where: string): BridgeAddress {
  if (typeof value !== 'string' || value === '') throw new Error(`${where}: an address must be "host:port"`)
  // `[::1]:1883` for IPv6 literals, as URLs write them.
  const match = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(value)
  const host = match?.[1] ?? match?.[2]
  const port = match?.[3] === undefined ? defaultPort : Number(match[3])
  if (host === undefined || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new Error(`${where}: bad address "${value}" (expected host:port)`)
  }
  return { host, port }
}

function seconds(value: unknown, fallback: number, key: string, where: string): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new Error(`${where}: "${key}" must be a positive number of seconds`)
  }
  return value
}

function withBaseDir(tls: BridgeTlsSpec, baseDir: string): BridgeTlsSpec {
  const abs = (p: string | undefined): string | undefined =>
    p === undefined || isAbsolute(p) ? p : resolve(baseDir, p)
  const out: BridgeTlsSpec = { ...tls }
  for (const key of ['ca', 'cert', 'key'] as const) {
    const path = abs(tls[key])
    if (path !== undefined) out[key] = path
  }
  return out
}

function asRecord(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${where} must be an object`)
  }
  return value as Record<string, unknown>
}
