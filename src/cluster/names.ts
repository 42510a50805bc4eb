/**
 * Every NATS name a tinymqtt cluster uses, derived from one cluster name, so that several
 * clusters can share a NATS account and nothing else spells these names out.
 *
 * With the default cluster name `tmq`:
 *
 * | what                       | name                          | kind                        |
 * |----------------------------|-------------------------------|-----------------------------|
 * | routed messages            | `tmq.msg.<t|s>.<levels…>`     | core subjects               |
 * | retained messages          | `tmq.retained.<t|s>.<levels…>`| stream `tmq_retained`       |
 * | client-id locks            | key `<client token>`          | KV bucket `tmq_clients`     |
 * | node presence (heartbeats) | key `<node token>`            | KV bucket `tmq_nodes` (TTL) |
 * | leases (e.g. `scripts`)    | key `<lease name>`            | KV bucket `tmq_leases`      |
 * | wills of connected clients | key `<client token>`          | KV bucket `tmq_wills`       |
 * | scripts' `persist`         | key `<script token>`          | KV bucket `tmq_scripts`     |
 * | takeover notices           | `tmq.ctl.takeover.<node token>` | core request/reply        |
 * | missed routed messages     | `tmq.replay`                  | core request, many answers  |
 */
import { levelToToken } from './subjects.ts'

/** A cluster name: one plain token, usable in subjects, stream and bucket names alike. */
const CLUSTER_RE = /^[A-Za-z0-9_-]{1,32}$/

export interface ClusterNames {
  readonly cluster: string
  /** Subject prefix for routed messages (cluster-router.ts). */
  readonly messagePrefix: string
  readonly retainedStream: string
  readonly retainedPrefix: string
  readonly clientsBucket: string
  readonly nodesBucket: string
  readonly leasesBucket: string
  /** The wills of connected clients, for when their node dies (will-registry.ts). */
  readonly willsBucket: string
  /** Each script's `persist` while the scripts run clustered (script-states.ts). */
  readonly scriptsBucket: string
  /** Where a node back from a NATS outage asks for the routed messages it missed (route-replay.ts). */
  readonly replaySubject: string
  /** The subject on which `nodeId` hears that one of its clients was taken over. */
  takeoverSubject(nodeId: string): string
}

export function clusterNames(cluster = 'tmq'): ClusterNames {
  if (!CLUSTER_RE.test(cluster))
    throw new RangeError(`invalid cluster name '${cluster}' (use A-Z a-z 0-9 _ -)`)
  return {
    cluster,
    messagePrefix: `${cluster}.msg`,
    retainedStream: `${cluster}_retained`,
    retainedPrefix: `${cluster}.retained`,
    clientsBucket: `${cluster}_clients`,
    nodesBucket: `${cluster}_nodes`,
    leasesBucket: `${cluster}_leases`,
    willsBucket: `${cluster}_wills`,
    scriptsBucket: `${cluster}_scripts`,
    replaySubject: `${cluster}.replay`,
    takeoverSubject: (nodeId) => `${cluster}.ctl.takeover.${nodeToken(nodeId)}`,
  }
}

/** A node id as one subject token / KV key (escaped like a topic level). */
export function nodeToken(nodeId: string): string {
  if (nodeId.length === 0) throw new RangeError('empty node id')
  return levelToToken(nodeId)
}
