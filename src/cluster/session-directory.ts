/**
 * Persistent sessions' records, cluster-wide: one key per client id in the KV bucket
 * `<cluster>_sessions` holding the session's subscriptions (with their options), its expiry
 * and the node that owns it. Every node watches the bucket into a local map, so the broker's
 * synchronous CONNECT path can ask "does the cluster hold a session for this client?" without
 * a round trip, and a node publishing a QoS 1/2 message can find the persistent sessions it
 * must keep a copy for (`matching`, an index of every record's subscriptions).
 */
import type { KV, KvEntry } from '@nats-io/kv'
import { parseSharedFilter } from '../broker/topic-rules.ts'
import { SubscriptionTree } from '../broker/topics.ts'
import { deleteAt, endsInitialValues, isEmpty, isRevisionConflict, jsonObject, liveEntry } from './kv-util.ts'
import type { ClusterNames } from './names.ts'
import type { NatsConnection } from './nats-connection.ts'
import { levelToToken, shareId } from './subjects.ts'

/** One subscription as stored: the filter and its MQTT 5 options. */
export interface SessionSubscriptionRecord {
  filter: string
  qos: 0 | 1 | 2
  noLocal?: boolean
  retainAsPublished?: boolean
  retainHandling?: 0 | 1 | 2
  identifier?: number
}

export interface ClusterSessionRecord {
  clientId: string
  /** Seconds the session outlives its connection (0xffffffff: never). */
  expiryInterval: number
  subscriptions: SessionSubscriptionRecord[]
  /** The node whose broker holds the session now. */
  node: string
  /** The run (one start) of that node that wrote the record, if named (node-presence.ts). */
  run?: string
  /** When its client went (ms since the epoch); absent while connected. */
  disconnectedAt?: number
  /** What was in flight to its client when it went, by message key (session-messages.ts). */
  inflight?: InflightRecord[]
}

export interface InflightRecord {
  key: string
  messageId: number
  state: 'publish' | 'pubrel'
}

interface Ahead {
  revision: number
  pending: number
  later?: KvEntry | undefined
}

export class SessionDirectory {
  private readonly records = new Map<string, ClusterSessionRecord>()
  /** Every record's subscriptions ($share ones aside: a group is served once, not per session). */
  private readonly index = new SubscriptionTree<string, SessionSubscriptionRecord>()
  /**
   * The `$share` groups some persistent session is a member of, under their filters: a QoS 1/2
   * message they match is kept once per group (shared-copies.ts). Subscribers are
   * `<client id>\0<group>`, values the group's shareId and the member's QoS.
   */
  private readonly shares = new SubscriptionTree<string, { id: string; qos: 0 | 1 | 2 }>()
  /** The client ids whose record names each node, and each record's KV revision (0: own write in flight). */
  private readonly byNode = new Map<string, Set<string>>()
  /** How many records each run of each node wrote ('' for records naming no run). */
  private readonly byRun = new Map<string, Map<string, number>>()
  private readonly revisions = new Map<string, number>()
  /**
   * What was in flight as each session's client last went, kept past the record that says it
   * went: resuming the session rewrites that record (its holder, each subscription restored)
   * before the node reads its kept messages.
   */
  private readonly lastInflight = new Map<string, InflightRecord[]>()
  /**
   * Keys whose map entry is ahead of the watch: this node's own writes (`pending` while they are
   * out, then the revision they got) and records read with `refresh`. The watch's older entries
   * for such a key are skipped, so a lagging watch never puts back a record that was replaced;
   * an entry it brings while a write is out is kept as `later` and applied if it turns out newer.
   */
  private readonly ahead = new Map<string, Ahead>()
  private stopWatch: (() => void) | undefined
  /** Called for each record the watch brings (this node's own writes included), and each delete. */
  onChange: ((clientId: string, record: ClusterSessionRecord | undefined) => void) | undefined

  private constructor(
    private readonly conn: NatsConnection,
    private readonly kv: KV,
  ) {}

  /** Opens (or creates) the bucket and resolves once the local map holds every record. */
  static async open(conn: NatsConnection, names: ClusterNames, replicas = 1): Promise<SessionDirectory> {
    const kv = await conn.kv(`${names.cluster}_sessions`, { history: 1, replicas })
    const dir = new SessionDirectory(conn, kv)
    await dir.watch()
    return dir
  }

  private async watch(): Promise<void> {
    const empty = await isEmpty(this.kv)
    const iter = await this.conn.watch(this.kv)
    this.stopWatch = () => iter.stop()
    let ready!: () => void
    const initial = new Promise<void>((resolve) => {
      ready = resolve
    })
    void (async () => {
      for await (const entry of iter) {
        this.apply(entry)
        if (endsInitialValues(entry)) ready()
      }
    })().catch(() => undefined)
    if (empty) ready()
    await initial
  }

  private apply(entry: KvEntry): void {
    const ahead = this.ahead.get(entry.key)
    if (ahead !== undefined) {
      if (ahead.pending > 0) {
        if (ahead.later === undefined || entry.revision > ahead.later.revision) ahead.later = entry
        return
      }
      if (entry.revision < ahead.revision) return
      this.ahead.delete(entry.key)
      // The watch caught up with what the map holds already.
      if (entry.revision === ahead.revision) return
    }
    this.applyNow(entry)
  }

  private applyNow(entry: KvEntry): void {
    const live = liveEntry(entry)
    if (!live) {
      const before = this.records.get(entry.key)
      this.set(entry.key, undefined)
      if (before) this.onChange?.(before.clientId, undefined)
      return
    }
    const record = parseRecord(jsonObject(live))
    if (!record) return
    this.set(entry.key, record, entry.revision)
    this.onChange?.(record.clientId, record)
  }

  private set(key: string, record: ClusterSessionRecord | undefined, revision = 0): void {
    const before = this.records.get(key)
    if (before) {
      for (const sub of before.subscriptions) this.unindex(before.clientId, sub.filter)
      const held = this.byNode.get(before.node)
      held?.delete(before.clientId)
      if (held?.size === 0) this.byNode.delete(before.node)
      this.countRun(before, -1)
    }
    if (record === undefined) {
      this.records.delete(key)
      this.revisions.delete(key)
      this.lastInflight.delete(key)
      return
    }
    if (record.inflight !== undefined && record.inflight.length > 0)
      this.lastInflight.set(key, record.inflight)
    else if (record.disconnectedAt !== undefined) this.lastInflight.delete(key)
    this.records.set(key, record)
    this.revisions.set(key, revision)
    for (const sub of record.subscriptions) this.indexOne(record.clientId, sub)
    let held = this.byNode.get(record.node)
    if (held === undefined) {
      held = new Set()
      this.byNode.set(record.node, held)
    }
    held.add(record.clientId)
    this.countRun(record, 1)
  }

  private indexOne(clientId: string, sub: SessionSubscriptionRecord): void {
    const shared = parseSharedFilter(sub.filter)
    if (shared === undefined) this.index.add(sub.filter, clientId, sub)
    else if (shared !== 'invalid')
      this.shares.add(shared.filter, `${clientId}\u0000${shared.group}`, {
        id: shareId(shared.group, shared.filter),
        qos: sub.qos,
      })
  }

  private unindex(clientId: string, filter: string): void {
    const shared = parseSharedFilter(filter)
    if (shared === undefined) this.index.remove(filter, clientId)
    else if (shared !== 'invalid') this.shares.remove(shared.filter, `${clientId}\u0000${shared.group}`)
  }

  private countRun(record: ClusterSessionRecord, by: 1 | -1): void {
    let runs = this.byRun.get(record.node)
    if (runs === undefined) {
      runs = new Map()
      this.byRun.set(record.node, runs)
    }
    const run = record.run ?? ''
    const count = (runs.get(run) ?? 0) + by
    if (count > 0) runs.set(run, count)
    else runs.delete(run)
    if (runs.size === 0) this.byRun.delete(record.node)
  }

  /** The runs of `node` that wrote the records naming it ('' for records naming no run). */
  runsOf(node: string): string[] {
    return [...(this.byRun.get(node)?.keys() ?? [])]
  }

  /** What was in flight to `clientId`'s client as it last went (once: taken by its resume). */
  takeInflight(clientId: string): InflightRecord[] | undefined {
    const key = keyOf(clientId)
    const inflight = this.lastInflight.get(key)
    this.lastInflight.delete(key)
    return inflight
  }

  /** Whether some record names `node` as its session's holder. */
  holds(node: string): boolean {
    return this.byNode.has(node)
  }

  /** The nodes some record names as the session's holder. */
  holders(): string[] {
    return [...this.byNode.keys()]
  }

  /** The records that name `node` as their holder. */
  heldBy(node: string): ClusterSessionRecord[] {
    const out: ClusterSessionRecord[] = []
    for (const clientId of this.byNode.get(node) ?? []) {
      const record = this.records.get(keyOf(clientId))
      if (record) out.push(record)
    }
    return out
  }

  /**
   * Deletes `clientId`'s record if it is still the one this node last saw (a client that came
   * back meanwhile moved it on); true when deleted.
   */
  async deleteIfUnchanged(clientId: string): Promise<boolean> {
    const key = keyOf(clientId)
    const revision = this.revisions.get(key)
    if (revision === undefined || revision === 0) return false
    return deleteAt(this.kv, key, revision)
  }

  /**
   * Writes `record` over its client's record if that is still the one this node last saw
   * (compare-and-set, as deleteIfUnchanged); true when written.
   */
  async replaceIfUnchanged(record: ClusterSessionRecord): Promise<boolean> {
    const key = keyOf(record.clientId)
    const revision = this.revisions.get(key)
    if (revision === undefined || revision === 0) return false
    let written: number
    try {
      written = await this.kv.update(key, JSON.stringify(record), revision)
    } catch (error) {
      if (isRevisionConflict(error)) return false
      throw error
    }
    if (this.revisions.get(key) !== revision) {
      // The watch has already brought this write, or a later one from a node that took the
      // session since: true only while the record still names the writer.
      return this.records.get(key)?.node === record.node
    }
    this.set(key, record, written)
    this.ahead.set(key, { revision: written, pending: 0 })
    return true
  }

  /** Calls `visit` for each persistent session's subscription that `topic` matches. */
  matching(topic: string, visit: (clientId: string, subscription: SessionSubscriptionRecord) => void): void {
    if (this.index.size > 0) this.index.match(topic, visit)
  }

  /** Calls `visit` for each persistent session's membership of a `$share` group that `topic` matches. */
  matchingShares(
    topic: string,
    visit: (member: string, share: { id: string; qos: 0 | 1 | 2 }) => void,
  ): void {
    if (this.shares.size > 0) this.shares.match(topic, visit)
  }

  /** The record the cluster holds for `clientId`, as last seen by this node's watcher. */
  get(clientId: string): ClusterSessionRecord | undefined {
    return this.records.get(keyOf(clientId))
  }

  /** Writes a session's record; resolves once the server stored it. */
  async put(record: ClusterSessionRecord): Promise<void> {
    const key = keyOf(record.clientId)
    this.set(key, record)
    let ahead = this.ahead.get(key)
    if (ahead === undefined) {
      ahead = { revision: 0, pending: 0 }
      this.ahead.set(key, ahead)
    }
    ahead.pending++
    let revision: number | undefined
    try {
      revision = await this.kv.put(key, JSON.stringify(record))
    } finally {
      this.written(key, ahead, revision)
    }
  }

  /** One of this node's writes of `key` is done (stored as `revision`, or failed). */
  private written(key: string, ahead: Ahead, revision?: number): void {
    ahead.pending--
    if (revision !== undefined && revision > ahead.revision) ahead.revision = revision
    if (ahead.pending > 0) return
    // The record in the map is this node's last write: its revision is what a delete compares.
    if (ahead.revision > 0 && this.revisions.get(key) === 0) this.revisions.set(key, ahead.revision)
    const later = ahead.later
    ahead.later = undefined
    if (later !== undefined && later.revision > ahead.revision) {
      // Another node wrote the key after this node did: its record is the one that stands.
      this.ahead.delete(key)
      this.applyNow(later)
    } else if (ahead.revision === 0 || (later !== undefined && later.revision === ahead.revision)) {
      this.ahead.delete(key)
    }
  }

  /**
   * Reads `clientId`'s record from the bucket itself, past the watch: a client resuming its
   * session here right after it left another node finds the record that node wrote as it went
   * (the watch may not have brought it yet). Skipped while this node's own write is out.
   */
  async refresh(clientId: string): Promise<void> {
    const key = keyOf(clientId)
    if ((this.ahead.get(key)?.pending ?? 0) > 0) return
    const entry = await this.kv.get(key)
    if (entry === null) return
    const ahead = this.ahead.get(key)
    if (ahead !== undefined && (ahead.pending > 0 || entry.revision <= ahead.revision)) return
    const known = this.revisions.get(key)
    if (known !== undefined && known !== 0 && entry.revision <= known) return
    this.ahead.set(key, { revision: entry.revision, pending: 0 })
    this.applyNow(entry)
  }

  /** Removes a session's record (clean start, expiry). */
  async delete(clientId: string): Promise<void> {
    const key = keyOf(clientId)
    this.set(key, undefined)
    await this.kv.delete(key)
  }

  /** Whether this node's map holds a record for `clientId`. */
  has(clientId: string): boolean {
    return this.records.has(keyOf(clientId))
  }

  stop(): void {
    this.stopWatch?.()
    this.stopWatch = undefined
  }
}

/** A client id as one KV key (escaped like a topic level; the empty id is kept apart). */
function keyOf(clientId: string): string {
  return levelToToken(clientId)
}

function parseRecord(v: Record<string, unknown> | undefined): ClusterSessionRecord | undefined {
  if (!v) return undefined
  const { clientId, expiryInterval, subscriptions, node, disconnectedAt } = v
  if (typeof clientId !== 'string' || typeof expiryInterval !== 'number' || typeof node !== 'string')
    return undefined
  if (!Array.isArray(subscriptions)) return undefined
  const subs: SessionSubscriptionRecord[] = []
  for (const s of subscriptions) {
    if (typeof s !== 'object' || s === null) return undefined
    const sub = s as Record<string, unknown>
    if (typeof sub.filter !== 'string' || (sub.qos !== 0 && sub.qos !== 1 && sub.qos !== 2)) return undefined
    subs.push(sub as unknown as SessionSubscriptionRecord)
  }
  const record: ClusterSessionRecord = { clientId, expiryInterval, subscriptions: subs, node }
  if (typeof disconnectedAt === 'number') record.disconnectedAt = disconnectedAt
  if (typeof v.run === 'string') record.run = v.run
  if (Array.isArray(v.inflight)) record.inflight = v.inflight.filter(isInflightRecord)
  return record
}

export function isInflightRecord(v: unknown): v is InflightRecord {
  if (typeof v !== 'object' || v === null) return false
  const { key, messageId, state } = v as Record<string, unknown>
  return (
    typeof key === 'string' &&
    typeof messageId === 'number' &&
    Number.isInteger(messageId) &&
    messageId > 0 &&
    messageId <= 0xffff &&
    (state === 'publish' || state === 'pubrel')
  )
}
