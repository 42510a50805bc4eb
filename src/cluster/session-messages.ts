/**
 * Persistent sessions' QoS 1/2 messages, kept where every node finds them (session-queue.ts).
 *
 * - The publishing node keeps a copy for each persistent session in the cluster that the
 *   message matches (`routed`, from the router's forward), wherever the session is held and
 *   whether its client is connected or not. The writes are part of the router's flush, so a
 *   publisher's PUBACK/PUBREC goes only once every copy is stored: a node that dies with the
 *   message in its memory loses nothing acknowledged.
 * - Every QoS 1/2 message carries its cluster-wide key on every node (`named`), so the session
 *   that takes it in can tell the cluster, once its client completed it, to delete that copy
 *   (`ClusterMessageLog.removed`). Deletes go by stream sequence, which the stream tells the
 *   holder node of every copy stored for its sessions (SessionQueue.followSequences); a copy
 *   whose sequence has not come within SEQUENCE_WAIT_MS is deleted by subject instead.
 * - A QoS 1/2 message matching a `$share` group with a persistent member is kept once for the
 *   group (`keptShares`, `routed`), and the group's nodes take it from JetStream rather than
 *   from routing (shared-copies.ts). The member it goes to keeps it as a session's copy on this
 *   node before the group's copy goes (`claimShared`), so from then on it is the member's.
 * - On each resume of a persistent session the node reads what the cluster kept for it and
 *   hands the session what it does not have yet (`missing`): all of it when the session moved
 *   here or its node died, the few messages this node missed otherwise.
 */
import type { Logger } from 'pino'
import { LevelTree } from '../broker/level-tree.ts'
import type { BacklogMessage, InflightEntry, Message, QoS, SessionMessageLog } from '../broker/types.ts'
import { settleWithin } from '../util/settle-within.ts'
import type { InflightRecord, SessionDirectory } from './session-directory.ts'
import { SessionQueue, type SharedCopy } from './session-queue.ts'

const RETRY_MS = 1000
/** How long a completed copy waits for its sequence before it is deleted by subject. */
const SEQUENCE_WAIT_MS = 5000
/** Sequences remembered for copies not completed yet; past it the oldest are forgotten. */
const MAX_SEQUENCES = 200_000
/**
 * How long a copy dropped at a queue limit waits before it is deleted: by then this node's
 * directory has the record of a takeover that happened as it was dropped. The check runs with
 * the sequence fallback, every SEQUENCE_WAIT_MS, so a drop is deleted 5–10 s after it.
 */
const DROP_WAIT_MS = 5000
/** How long a resume waits for the cluster's copy before its session goes on without it. */
const READ_LIMIT_MS = 10_000
/** Sessions whose kept messages are read at once; the others wait their turn. */
const READS_AT_ONCE = 16
/** Completed keys a session remembers, so a late copy of a message it had is not taken again. */
const RECENT_KEYS = 256
/**
 * When a session that moved here reads the cluster's copy again. A message routed just before
 * this node's NATS subscription for the session reached the server never comes here live, and
 * its copy, sent right behind it by its origin, may be stored only after the first read: a
 * window of the stream's store latency (microseconds to milliseconds), which seconds cover.
 */
const MOVED_READ_AGAIN_MS = 3000
/** The `$share` groups one message is kept for at most (the routing envelope's count is a byte). */
const MAX_KEPT_SHARES = 255

/** What the cluster keeps for a session: its messages, oldest first, and its QoS 2 messages in flight. */
interface Kept {
  messages: Array<{ key: string; message: Message }>
  inflight: InflightRecord[]
}

interface Copy {
  qos: QoS
  retain: boolean
}

interface Store {
  /** The session's client id; or, for a `$share` group's copy, the group's shareId. */
  clientId: string
  /** The session's holder; undefined for a group's copy. */
  holder: string | undefined
  key: string
  message: Message
}

/** The stores of one event-loop turn, confirmed together (SessionQueue.confirm). */
interface Batch {
  stores: Store[]
  done: Promise<void>
  settle: () => void
}

export class SessionMessages {
  /** The cluster-wide key of each QoS 1/2 message routed or received here, while it lives. */
  private readonly keys = new WeakMap<Message, string>()
  /** The batch this turn's stores join, sent at setImmediate. */
  private current: Batch | undefined
  /** Batches sent and not confirmed yet (retried until they are, or given up at stop). */
  private readonly open = new Set<Batch>()
  private stopped = false
  private lastWarning = 0
  /** Stream sequences of copies kept for sessions held here, by `<client token>.<key>`. */
  private readonly sequences = new Map<string, number>()
  /** Copies completed before their sequence came, by the same id, with when. */
  private readonly awaiting = new Map<string, { clientId: string; key: string; since: number }>()
  private readonly fallbackTimer: NodeJS.Timeout
  /** Copies dropped at a queue limit, oldest first, waiting to be deleted (deleteDropped). */
  private drops: { clientId: string; id: string; key: string; since: number }[] = []
  private dropsHead = 0

  constructor(
    private readonly queue: SessionQueue,
    private readonly directory: SessionDirectory,
    private readonly nodeId: string,
    private readonly logger: Logger,
  ) {
    queue.followSequences(nodeId, (token, key, seq) => this.sequenced(`${token}.${key}`, seq))
    this.fallbackTimer = setInterval(() => this.deleteOverdue(), SEQUENCE_WAIT_MS)
    this.fallbackTimer.unref()
  }

  /** Reads a connected session's kept messages again (SessionFabricInlet.missedMessages). */
  readAgain: ((clientId: string) => void) | undefined

  /** A session moved here: its kept messages are read once more MOVED_READ_AGAIN_MS later. */
  moved(clientId: string): void {
    const timer = setTimeout(() => {
      this.movedTimers.delete(timer)
      if (!this.stopped) this.readAgain?.(clientId)
    }, MOVED_READ_AGAIN_MS)
    timer.unref()
    this.movedTimers.add(timer)
  }

  private readonly movedTimers = new Set<NodeJS.Timeout>()
  private reading = 0
  private readonly waitingReads: (() => void)[] = []
  /** Each origin's id as a subject token: escaping one costs about a µs, and there are few. */
  private readonly originTokens = new Map<string, string>()

  /**
   * A message from another node: named with its origin's key, so a session here can report it.
   * Only a node holding some persistent session needs the name: a WeakMap entry costs about
   * 0.7–0.8 µs a message (a loop of 2 million in Node 20), against about 9 µs for the whole
   * QoS 1 delivery on the receiving node (`npm run bench -- cluster`).
   */
  named(message: Message, origin: string, seq: number): void {
    if (this.directory.holds(this.nodeId)) this.keys.set(message, this.keyFor(origin, seq))
  }

  /** SessionQueue.keyOf, with the origin's token kept. */
  private keyFor(origin: string, seq: number): string {
    let token = this.originTokens.get(origin)
    if (token === undefined) {
      // Origins are instance ids (node id and a random suffix): new ones come with restarts only.
      if (this.originTokens.size >= 1024) this.originTokens.clear()
      token = SessionQueue.originToken(origin)
      this.originTokens.set(origin, token)
    }
    return `${token}.${seq}`
  }

  /**
   * A QoS 1/2 message routed on this node as `origin`'s number `seq`: a copy is stored for every
   * persistent session it matches, with the QoS and retain flag it is delivered with.
   */
  routed(message: Message, origin: string, seq: number, shares?: readonly string[]): void {
    let copies: Map<string, Copy> | undefined
    this.directory.matching(message.topic, (clientId, sub) => {
      if (sub.noLocal === true && message.clientId === clientId) return
      const qos = Math.min(message.qos, sub.qos) as QoS
      if (qos === 0) return
      const retain = message.retain && sub.retainAsPublished === true
      copies ??= new Map()
      const other = copies.get(clientId)
      // A session matched by several of its filters gets one copy, at the best of them.
      if (other) {
        if (qos > other.qos) other.qos = qos
        other.retain ||= retain
      } else {
        copies.set(clientId, { qos, retain })
      }
    })
    if (copies === undefined && shares === undefined) return
    const key = this.keyFor(origin, seq)
    this.keys.set(message, key)
    const batch = this.batch()
    for (const share of shares ?? []) this.keep(batch, { clientId: share, holder: undefined, key, message })
    if (copies === undefined) return
    for (const [clientId, { qos, retain }] of copies) {
      const holder = this.directory.get(clientId)?.node ?? this.nodeId
      this.keep(batch, { clientId, holder, key, message: { ...message, qos, retain } })
    }
  }

  /**
   * The `$share` groups with a persistent member that a QoS 1/2 message is kept for (their
   * shareIds; undefined when none): those whose members' QoS leaves it at QoS 1/2 for one.
   */
  keptShares(message: Message): string[] | undefined {
    let out: string[] | undefined
    this.directory.matchingShares(message.topic, (_member, share) => {
      // The envelope lists at most 255; groups past that are served by routing alone.
      if (share.qos === 0 || out?.includes(share.id) || out?.length === MAX_KEPT_SHARES) return
      out ??= []
      out.push(share.id)
    })
    return out
  }

  /** Group copies given to this node's members, until a member's log claims one (claimShared). */
  private readonly claims = new WeakMap<Message, SharedCopy>()

  /**
   * A `$share` group's copy this node is about to give a member: named with its key, so a
   * persistent member keeps it (claimShared). Call `settle` after the delivery.
   */
  offerShared(copy: SharedCopy): void {
    this.keys.set(copy.message, copy.key)
    this.claims.set(copy.message, copy)
  }

  /** After offerShared's delivery: a copy no persistent member claimed (a clean one took it, at QoS 0 or not) is done with. */
  settleShared(copy: SharedCopy): void {
    if (this.claims.delete(copy.message)) copy.taken()
  }

  /** After offerShared: no member here took the copy, which goes back to the group. */
  withdrawShared(copy: SharedCopy): void {
    this.claims.delete(copy.message)
  }

  /**
   * A persistent session here took `message` as `key`: when it is a group's copy, the session
   * gets its own copy, held here, and the group's goes once that is stored.
   */
  claimShared(clientId: string, key: string, message: Message, qos: QoS, retain: boolean): void {
    const copy = this.claims.get(message)
    if (copy === undefined) return
    this.claims.delete(message)
    const batch = this.batch()
    this.keep(batch, { clientId, holder: this.nodeId, key, message: { ...message, qos, retain } })
    void batch.done.then(() => {
      if (!this.stopped) copy.taken()
    })
  }

  /** Resolves once every copy sent so far is stored (or given up at stop). */
  async settled(): Promise<void> {
    if (this.open.size > 0) await Promise.all([...this.open].map((b) => b.done))
  }

  /** What each session had in flight as its client went, until its record is written. */
  private readonly leavingInflight = new Map<string, InflightRecord[]>()

  /** See ClusterMessageLog.leaving. */
  left(clientId: string, inflight: InflightRecord[]): void {
    if (inflight.length > 0) this.leavingInflight.set(clientId, inflight)
    else this.leavingInflight.delete(clientId)
  }

  /** What the session had in flight as its client went (once: the record that says it went takes it). */
  takeInflight(clientId: string): InflightRecord[] | undefined {
    const inflight = this.leavingInflight.get(clientId)
    this.leavingInflight.delete(clientId)
    return inflight
  }

  /** What the cluster's record said was in flight to `clientId`'s client as it last went. */
  inflightOf(clientId: string): ReadonlyMap<string, InflightRecord> {
    const out = new Map<string, InflightRecord>()
    for (const entry of this.directory.takeInflight(clientId) ?? []) out.set(entry.key, entry)
    return out
  }

  /**
   * The Subscription Identifiers a topic gets from `clientId`'s subscriptions as the cluster's
   * record has them now (the copies do not keep them: a delivery is matched again on read).
   */
  identifiersOf(clientId: string): (topic: string) => number[] | undefined {
    const tree = new LevelTree<number[]>()
    for (const sub of this.directory.get(clientId)?.subscriptions ?? []) {
      if (sub.identifier === undefined || sub.filter.startsWith('$share/')) continue
      const node = tree.open(sub.filter)
      node.value = [...(node.value ?? []), sub.identifier]
    }
    return (topic) => {
      const ids: number[] = []
      tree.matchTopic(topic, collectIds, ids)
      return ids.length > 0 ? ids : undefined
    }
  }

  /** The log of one persistent session held on this node (SessionFabric.messageLog). */
  logFor(clientId: string): SessionMessageLog {
    return new ClusterMessageLog(clientId, this)
  }

  keyOf(message: Message): string | undefined {
    return this.keys.get(message)
  }

  /**
   * A session here completed its copy `key` (`id`: its client token and the key): deleted by
   * sequence, now or once the sequence comes (not confirmed: a lost delete means a redelivery).
   */
  completed(clientId: string, id: string, key: string): void {
    const seq = this.sequences.get(id)
    if (seq === undefined) {
      this.awaiting.set(id, { clientId, key, since: Date.now() })
      return
    }
    this.sequences.delete(id)
    this.removeAt(seq)
  }

  /**
   * A session here dropped its copy `key` at the queue limit: deleted DROP_WAIT_MS later if the
   * cluster's record still names this node as the session's holder then (see
   * SessionMessageLog.dropped).
   */
  dropped(clientId: string, id: string, key: string): void {
    this.drops.push({ clientId, id, key, since: Date.now() })
    // A flood of drops: the oldest go now rather than growing without bound.
    if (this.drops.length - this.dropsHead > MAX_SEQUENCES)
      this.deleteDropped(this.drops[this.dropsHead]?.since ?? 0)
  }

  /** Deletes the dropped copies older than `before` whose session is still held here. */
  private deleteDropped(before: number): void {
    while (this.dropsHead < this.drops.length) {
      const drop = this.drops[this.dropsHead]
      if (drop === undefined || drop.since > before) break
      this.dropsHead++
      if (this.directory.get(drop.clientId)?.node === this.nodeId)
        this.completed(drop.clientId, drop.id, drop.key)
    }
    if (this.dropsHead === this.drops.length) {
      this.drops = []
      this.dropsHead = 0
    } else if (this.dropsHead > 4096 && this.dropsHead * 2 > this.drops.length) {
      this.drops = this.drops.slice(this.dropsHead)
      this.dropsHead = 0
    }
  }

  /** Whether the copy `id` was completed here and its delete is still to be sent (completed). */
  deleting(id: string): boolean {
    return this.awaiting.has(id)
  }

  private sequenced(id: string, seq: number): void {
    if (this.awaiting.delete(id)) {
      this.removeAt(seq)
      return
    }
    this.sequences.set(id, seq)
    if (this.sequences.size > MAX_SEQUENCES)
      for (const oldest of this.sequences.keys()) {
        this.sequences.delete(oldest)
        break
      }
  }

  private removeAt(seq: number): void {
    try {
      this.queue.remove(seq)
    } catch (error) {
      this.logger.debug({ err: error }, 'cluster: could not delete a delivered message')
    }
  }

  /** Completed copies whose sequence never came (stored under another holder, or forgotten). */
  private deleteOverdue(): void {
    this.deleteDropped(Date.now() - DROP_WAIT_MS)
    const before = Date.now() - SEQUENCE_WAIT_MS
    for (const [id, { clientId, key, since }] of this.awaiting) {
      if (since > before) break
      this.awaiting.delete(id)
      this.queue.removeBySubject(clientId, key).catch((error: unknown) => {
        this.logger.debug({ err: error, clientId }, 'cluster: could not delete a delivered message')
      })
    }
  }

  /** Deletes everything kept for a session that ended. */
  purge(clientId: string): void {
    this.queue.purge(clientId).catch((error: unknown) => {
      this.logger.warn({ err: error, clientId }, "cluster: could not delete an ended session's messages")
    })
  }

  /** Logs whose QoS 2 messages in flight changed this turn, written at setImmediate. */
  private inflightChanges: Set<ClusterMessageLog> | undefined

  /** `log`'s list of QoS 2 messages in flight changed: kept in the stream (SessionQueue.writeInflight). */
  inflightChanged(log: ClusterMessageLog): void {
    if (this.inflightChanges === undefined) {
      this.inflightChanges = new Set()
      setImmediate(() => this.writeInflight())
    }
    this.inflightChanges.add(log)
  }

  private writeInflight(): void {
    const logs = this.inflightChanges
    this.inflightChanges = undefined
    if (logs === undefined || this.stopped) return
    for (const log of logs) {
      try {
        this.queue.writeInflight(log.clientId, log.inflightList())
      } catch (error) {
        // Only a closed connection throws here; the list is written again at the next change.
        this.logger.debug({ err: error, clientId: log.clientId }, 'cluster: could not keep what is in flight')
      }
    }
  }

  /**
   * What the cluster keeps for `clientId`, each message named with its key, with the session's
   * last list of QoS 2 messages in flight; nothing when unreadable. At most READS_AT_ONCE
   * sessions are read at a time (a reconnect reads every connected one).
   */
  async read(clientId: string): Promise<Kept> {
    if (this.reading >= READS_AT_ONCE) await new Promise<void>((resolve) => this.waitingReads.push(resolve))
    this.reading++
    try {
      return await this.readNow(clientId)
    } finally {
      this.reading--
      this.waitingReads.shift()?.()
    }
  }

  private async readNow(clientId: string): Promise<Kept> {
    const result = await settleWithin(this.queue.readSession(clientId), READ_LIMIT_MS).catch(
      (error: unknown) => ({
        done: false as const,
        error,
      }),
    )
    if (!result.done) {
      this.logger.warn(
        { clientId, err: 'error' in result ? result.error : undefined },
        "cluster: could not read a session's kept messages; it resumes with what this node has",
      )
      return { messages: [], inflight: [] }
    }
    const token = SessionQueue.sessionToken(clientId)
    for (const { key, seq, message } of result.value.messages) {
      this.keys.set(message, key)
      this.sequenced(`${token}.${key}`, seq)
    }
    return result.value
  }

  /** Gives up the batches still retrying (the node is closing). */
  stop(): void {
    this.stopped = true
    clearInterval(this.fallbackTimer)
    for (const timer of this.movedTimers) clearTimeout(timer)
    this.movedTimers.clear()
    this.queue.stop()
    for (const batch of this.open) batch.settle()
    this.open.clear()
    this.current = undefined
  }

  /** Sends `store` as part of `batch`, which sends it again if the batch is not confirmed. */
  private keep(batch: Batch, store: Store): void {
    batch.stores.push(store)
    this.send(store)
  }

  private send({ clientId, holder, key, message }: Store): void {
    if (holder === undefined) this.queue.sendShare(clientId, key, message)
    else this.queue.send(clientId, holder, key, message)
  }

  /** This turn's batch: its stores go out as they come, its confirmation at setImmediate. */
  private batch(): Batch {
    if (this.current) return this.current
    let settle!: () => void
    const done = new Promise<void>((resolve) => {
      settle = resolve
    })
    const batch: Batch = { stores: [], done, settle }
    this.current = batch
    this.open.add(batch)
    setImmediate(() => {
      if (this.current === batch) this.current = undefined
      this.confirm(batch)
    })
    return batch
  }

  private confirm(batch: Batch): void {
    if (this.stopped) return
    this.queue.confirm().then(
      () => {
        this.open.delete(batch)
        batch.settle()
      },
      (error: unknown) => {
        if (this.stopped) return
        const now = Date.now()
        if (now - this.lastWarning >= RETRY_MS) {
          this.lastWarning = now
          this.logger.warn(
            { err: error, messages: batch.stores.length },
            "cluster: keeping persistent sessions' messages failed; acknowledgements held, retrying",
          )
        }
        setTimeout(() => {
          if (this.stopped) return
          // Sent again in full: a store already kept is replaced by its copy (one per subject).
          for (const store of batch.stores) this.send(store)
          this.confirm(batch)
        }, RETRY_MS).unref()
      },
    )
  }
}

/** One persistent session's messages as this node's copy of it holds them. */
class ClusterMessageLog implements SessionMessageLog {
  /** Entry number → key, for the entries whose message the cluster keeps. */
  private readonly held = new Map<number, string>()
  private readonly heldKeys = new Set<string>()
  /** The last keys completed, oldest first (a late copy of one is not taken again). */
  private recent: Set<string> | undefined

  private readonly token: string
  /** Entry number → its QoS 2 message in flight to the client (SessionQueue.writeInflight). */
  private inflight: Map<number, InflightRecord> | undefined

  constructor(
    readonly clientId: string,
    private readonly messages: SessionMessages,
  ) {
    this.token = SessionQueue.sessionToken(clientId)
  }

  added(seq: number, message: Message, qos: QoS, retain: boolean): boolean {
    const key = this.messages.keyOf(message)
    if (key === undefined) return true
    // The same message twice: read back from the cluster and arrived live, or the reverse.
    if (this.heldKeys.has(key) || this.recent?.has(key)) return false
    this.hold(seq, key)
    this.messages.claimShared(this.clientId, key, message, qos, retain)
    return true
  }

  private hold(seq: number, key: string): void {
    this.held.set(seq, key)
    this.heldKeys.add(key)
  }

  keyOf(seq: number): string | undefined {
    return this.held.get(seq)
  }

  restored(entries: { seq: number; key: string }[]): void {
    for (const { seq, key } of entries) this.hold(seq, key)
  }

  inFlight(seq: number, messageId: number, state: 'publish' | 'pubrel', qos: QoS): void {
    // A QoS 1 message sent again under a new id is no harm; a QoS 2 one may be taken twice.
    if (qos !== 2) return
    const key = this.held.get(seq)
    if (key === undefined) return
    this.inflight ??= new Map()
    this.inflight.set(seq, { key, messageId, state })
    this.messages.inflightChanged(this)
  }

  /** The QoS 2 messages in flight now, as SessionQueue.writeInflight keeps them. */
  inflightList(): Iterable<InflightRecord> {
    return this.inflight?.values() ?? []
  }

  removed(seq: number): void {
    const key = this.forget(seq)
    if (key !== undefined) this.messages.completed(this.clientId, `${this.token}.${key}`, key)
  }

  dropped(seq: number): void {
    const key = this.forget(seq)
    if (key !== undefined) this.messages.dropped(this.clientId, `${this.token}.${key}`, key)
  }

  /** The entry's key, no longer held and remembered as done with; undefined when it had none. */
  private forget(seq: number): string | undefined {
    const key = this.held.get(seq)
    if (key === undefined) return undefined
    // Not written for this alone: an entry listed after its copy was deleted is never used,
    // and the next list written leaves it out.
    this.inflight?.delete(seq)
    this.held.delete(seq)
    this.heldKeys.delete(key)
    this.recent ??= new Set()
    this.recent.add(key)
    if (this.recent.size > RECENT_KEYS)
      for (const oldest of this.recent) {
        this.recent.delete(oldest)
        break
      }
    return key
  }

  leaving(inflight: InflightEntry[]): void {
    const out: InflightRecord[] = []
    for (const { seq, messageId, state } of inflight) {
      const key = this.held.get(seq)
      if (key !== undefined) out.push({ key, messageId, state })
    }
    this.messages.left(this.clientId, out)
  }

  async missing(moved = false): Promise<BacklogMessage[]> {
    const left = this.messages.inflightOf(this.clientId)
    const kept = await this.messages.read(this.clientId)
    if (moved) this.messages.moved(this.clientId)
    // The list written as the client left a live node is the last word; without one (its node
    // died) the list its node kept as things happened is.
    const inflight = left.size > 0 ? left : new Map(kept.inflight.map((entry) => [entry.key, entry]))
    const identifiers = this.messages.identifiersOf(this.clientId)
    const out: BacklogMessage[] = []
    for (const { key, message } of kept.messages) {
      if (message.qos === 0 || this.heldKeys.has(key) || this.recent?.has(key)) continue
      // Completed here past the last RECENT_KEYS, its copy waiting for its sequence to be deleted.
      if (this.messages.deleting(`${this.token}.${key}`)) continue
      const sent = inflight.get(key)
      out.push({
        message,
        qos: message.qos,
        retain: message.retain,
        inflight: sent && { messageId: sent.messageId, state: sent.state },
        subscriptionIds: identifiers(message.topic),
      })
    }
    return out
  }
}

function collectIds(ids: number[], out: number[]): void {
  out.push(...ids)
}
