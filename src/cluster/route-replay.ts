/**
 * Routed QoS 1/2 messages a node missed while it was away from NATS, sent again by the nodes
 * that routed them. Core NATS delivers at most once: a publisher's PUBACK waits until the NATS
 * server has the message (cluster-router.ts), but a node whose connection is broken at that
 * moment, or that resubscribes after a NATS restart later than the publishing node came back,
 * never gets it, and its clients with clean sessions would lose an acknowledged message.
 *
 * Every node keeps what it routed at QoS 1/2 lately (route-history.ts) and answers requests on
 * `<cluster>.replay`. A node whose connection comes back asks every node for what came after
 * the last message it saw from each (by the origin's sequence number; by time for an origin it
 * never heard from), with the MQTT filters it had when it lost the connection, and holds the
 * messages arriving from each origin until that origin's answer is in. It then delivers the
 * answer and the held messages merged in sequence order, each once, so a publisher's messages
 * stay in order. The request goes out again every second until every node alive has answered
 * or REPLAY_DEADLINE_MS passed: nodes come back from an outage at different times.
 *
 * An answer is a run of messages to the requester's inbox, each `u8 kind, u8 origin length,
 * origin`, then for DATA records as route-history.ts lays them out, for END one byte: 1 when the
 * history still had everything asked for, 0 when some of it was already dropped.
 *
 * Not covered: QoS 0 (at most once by definition) and `$share` groups (their own connection).
 */
import { createInbox, type Msg, type Subscription } from '@nats-io/transport-node'
import type { Logger } from 'pino'
import { LevelTree } from '../broker/level-tree.ts'
import type { Message } from '../broker/types.ts'
import { decodeEnvelope } from './envelope.ts'
import type { ClusterNames } from './names.ts'
import type { NatsConnection } from './nats-connection.ts'
import { RouteHistory } from './route-history.ts'

const DATA = 1
const END = 2
/** Target size of one answer message (below NATS's default 1 MiB max_payload). */
const CHUNK_BYTES = 256 * 1024
/** How often a request goes out again while nodes have not answered. */
const RETRY_MS = 1_000
/**
 * How long a node keeps asking after it came back: longer than the gap between two nodes'
 * reconnects after a NATS restart (nats-connection.ts: at most 10 s plus 20% jitter).
 */
export const REPLAY_DEADLINE_MS = 30_000
/**
 * A broken connection is noticed after two unanswered pings (nats-connection.ts: 10 s apart),
 * so messages may have been lost up to this long before the 'disconnected' event.
 */
const NOTICE_SLACK_MS = 21_000
/** Clocks of two nodes may differ by this much: a request by time reaches back as far again. */
const CLOCK_SKEW_MS = 1_000
/** Messages held for origins that have not answered, at most; past it, held ones go out as they are. */
const MAX_HELD = 100_000

/** What the replay needs of the router. */
export interface ReplayRouter {
  readonly origin: string
  /** The highest sequence number delivered from each origin. */
  readonly lastSeen: ReadonlyMap<string, number>
  /** The MQTT filters the node holds NATS subscriptions for now. */
  readonly filters: string[]
  /** Delivers a routed message unless a copy numbered as high from its origin was delivered; true when delivered. */
  accept(origin: string, seq: number, message: Message): boolean
  /** The MQTT topic of a routed subject, or undefined when it is not one. */
  topicOf(subject: string): string | undefined
}

interface Held {
  seq: number
  message: Message
}

/** One catch-up after a reconnect. */
class CatchUp {
  readonly answered = new Set<string>()
  /** Messages that arrived from an origin before its answer, in arrival (= sequence) order. */
  readonly held = new Map<string, Held[]>()
  heldCount = 0
  /** Answer records per origin until its END. */
  readonly answers = new Map<string, Held[]>()
  readonly deadline = Date.now() + REPLAY_DEADLINE_MS
  /** The nodes that should answer: alive when the connection was lost, or since. */
  readonly expected: Set<string>
  timer: NodeJS.Timeout | undefined
  sub: Subscription | undefined

  constructor(
    readonly inbox: string,
    /** Filters whose topics a replayed message is delivered for. */
    readonly filters: LevelTree<true>,
    readonly since: number,
    expected: string[],
  ) {
    this.expected = new Set(expected)
  }
}

export class RouteReplay {
  readonly history = new RouteHistory()
  private readonly subject: string
  private responder: Subscription | undefined
  private catchUp: CatchUp | undefined
  private lostAt = 0
  private filtersAtLoss: string[] = []
  private nodesAtLoss: string[] = []
  private readonly startedAt = Date.now()
  /** Messages this node missed while away from NATS and was sent by their origins afterwards. */
  replayed = 0
  /** Answers that said part of what was asked for had already left the origin's history. */
  gaps = 0
  /** The ids of the nodes alive, this one included (index.ts sets it once presence runs). */
  liveNodes: () => string[] = () => []

  constructor(
    private readonly conn: NatsConnection,
    names: ClusterNames,
    private readonly router: ReplayRouter,
    private readonly logger: Logger,
  ) {
    this.subject = names.replaySubject
  }

  /** Answers other nodes' requests, and asks for what this node missed whenever its connection comes back. */
  start(): void {
    this.responder = this.conn.connection.subscribe(this.subject, {
      callback: (error, msg) => {
        if (error) this.logger.warn({ err: error }, 'cluster: replay subscription error')
        else this.answer(msg)
      },
    })
    this.conn.on('disconnected', this.lost)
    this.conn.on('reconnected', this.back)
  }

  stop(): void {
    this.conn.off('disconnected', this.lost)
    this.conn.off('reconnected', this.back)
    this.responder?.unsubscribe()
    if (this.catchUp) this.finish(this.catchUp)
  }

  /** Keeps a routed QoS 1/2 message of this node for replay. */
  routed(seq: number, subject: string, data: Uint8Array): void {
    // The exact time (62 ns a call): a clock read on a timer lags by its period and more under
    // load, and a request by time from a node that started moments ago then missed messages.
    this.history.add(seq, subject, data, Date.now())
  }

  /**
   * Whether a routed message from `origin` must wait for that origin's answer; it is then
   * kept here and delivered with the answer.
   */
  hold(origin: string, seq: number, message: Message): boolean {
    const round = this.catchUp
    if (round === undefined || round.answered.has(origin)) return false
    let list = round.held.get(origin)
    if (list === undefined) {
      list = []
      round.held.set(origin, list)
    }
    list.push({ seq, message })
    if (++round.heldCount > MAX_HELD) {
      this.logger.warn(
        { held: round.heldCount },
        'cluster: too many messages held for nodes that have not answered; delivering them without their replay',
      )
      this.finish(round)
    }
    return true
  }

  private readonly lost = (): void => {
    // The first loss of a run of outages counts: nothing arrived since.
    if (this.lostAt !== 0) return
    this.lostAt = Date.now()
    this.filtersAtLoss = this.router.filters
    this.nodesAtLoss = this.liveNodes()
  }

  private readonly back = (): void => {
    const filters = new LevelTree<true>()
    for (const filter of this.filtersAtLoss) filters.open(filter).value = true
    for (const filter of this.router.filters) filters.open(filter).value = true
    const since = Math.max(this.startedAt, this.lostAt - NOTICE_SLACK_MS) - CLOCK_SKEW_MS
    const previous = this.catchUp
    const round = new CatchUp(createInbox(), filters, since, this.nodesAtLoss)
    // Messages held in an unfinished round stay held: their origins answer this round.
    if (previous !== undefined) {
      this.stopAsking(previous)
      for (const [origin, list] of previous.held) round.held.set(origin, list)
      round.heldCount = previous.heldCount
    }
    this.catchUp = round
    this.lostAt = 0
    round.sub = this.conn.connection.subscribe(round.inbox, {
      callback: (error, msg) => {
        if (!error) this.received(round, msg.data)
      },
    })
    // Set before the first ask, which may end the round at once (no other node alive).
    round.timer = setInterval(() => this.ask(round), RETRY_MS)
    this.ask(round)
  }

  private ask(round: CatchUp): void {
    if (this.catchUp !== round) return
    // Presence read right after an outage may not list every node yet; one alive when the
    // connection was lost is waited for as well (holding only what comes from it).
    const self = nodeOf(this.router.origin)
    const live = this.liveNodes()
    for (const node of live) round.expected.add(node)
    round.expected.delete(self)
    const answeredNodes = new Set([...round.answered].map(nodeOf))
    const waiting = [...round.expected].filter((node) => !answeredNodes.has(node))
    if (waiting.length === 0 || Date.now() >= round.deadline) {
      const silent = waiting.filter((node) => live.includes(node))
      if (silent.length > 0)
        this.logger.warn(
          { nodes: silent },
          'cluster: nodes did not send what this node missed while away from NATS',
        )
      this.finish(round)
      return
    }
    this.logger.debug({ waiting, answered: [...round.answered] }, 'cluster: asking for missed messages')
    const request = {
      from: this.router.origin,
      after: Object.fromEntries(this.router.lastSeen),
      since: round.since,
      skip: [...round.answered],
    }
    try {
      this.conn.connection.publish(this.subject, JSON.stringify(request), { reply: round.inbox })
    } catch (error) {
      this.logger.warn({ err: error }, 'cluster: could not ask for missed messages')
    }
  }

  /** One message of another node's answer. */
  private received(round: CatchUp, data: Uint8Array): void {
    if (this.catchUp !== round) return
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    const kind = buf[0]
    const originEnd = 2 + (buf[1] ?? 0)
    if (buf.length < originEnd + 1 || (kind !== DATA && kind !== END)) return
    const origin = buf.toString('utf8', 2, originEnd)
    if (round.answered.has(origin)) return
    let records = round.answers.get(origin)
    if (records === undefined) {
      records = []
      round.answers.set(origin, records)
    }
    if (kind === DATA) {
      this.readRecords(round, buf, originEnd, records)
      return
    }
    if (buf[originEnd] !== 1) {
      this.gaps++
      this.logger.warn(
        { origin },
        'cluster: messages routed while this node was away from NATS are past what their node keeps; some may be lost',
      )
    }
    this.logger.debug({ origin, records: records.length }, 'cluster: missed messages received')
    round.answers.delete(origin)
    round.answered.add(origin)
    const held = round.held.get(origin) ?? []
    round.heldCount -= held.length
    round.held.delete(origin)
    this.deliver(origin, records, held)
    // Everyone may have answered now.
    this.ask(round)
  }

  private readRecords(round: CatchUp, buf: Buffer, start: number, out: Held[]): void {
    let at = start
    while (at + 6 <= buf.length) {
      const subjectEnd = at + 2 + buf.readUInt16BE(at)
      if (subjectEnd + 4 > buf.length) return
      const dataEnd = subjectEnd + 4 + buf.readUInt32BE(subjectEnd)
      if (dataEnd > buf.length) return
      const topic = this.router.topicOf(buf.toString('utf8', at + 2, subjectEnd))
      const envelope = decodeEnvelope(Buffer.from(buf.subarray(subjectEnd + 4, dataEnd)))
      at = dataEnd
      if (topic === undefined || envelope === undefined || !matches(round.filters, topic)) continue
      envelope.message.topic = topic
      out.push({ seq: envelope.seq, message: envelope.message })
    }
  }

  /** An origin's answer and what was held from it, merged by sequence number, each once. */
  private deliver(origin: string, replayed: Held[], held: Held[]): void {
    const bySeq = new Map<number, { entry: Held; live: boolean }>()
    for (const entry of replayed) bySeq.set(entry.seq, { entry, live: false })
    // A copy that came live wins: it matched a subscription the node has now.
    for (const entry of held) bySeq.set(entry.seq, { entry, live: true })
    const all = [...bySeq.values()].sort((x, y) => x.entry.seq - y.entry.seq)
    let missed = 0
    for (const { entry, live } of all)
      if (this.router.accept(origin, entry.seq, entry.message) && !live) missed++
    this.replayed += missed
    if (missed > 0)
      this.logger.info({ origin, missed }, 'cluster: delivered messages missed while away from NATS')
  }

  private stopAsking(round: CatchUp): void {
    this.logger.debug(
      { answered: [...round.answered], held: round.heldCount },
      'cluster: catch-up round over',
    )
    clearInterval(round.timer)
    round.sub?.unsubscribe()
  }

  /** Ends a round: whatever is still held goes out as it came. */
  private finish(round: CatchUp): void {
    this.stopAsking(round)
    if (this.catchUp === round) this.catchUp = undefined
    for (const [origin, held] of round.held) this.deliver(origin, [], held)
    round.held.clear()
    round.heldCount = 0
  }

  /** Another node asks for what it missed: everything this node routed after what it saw. */
  private answer(msg: Msg): void {
    const reply = msg.reply
    if (!reply) return
    let request: { from?: unknown; after?: unknown; since?: unknown; skip?: unknown }
    try {
      request = JSON.parse(msg.string())
    } catch {
      return
    }
    const origin = this.router.origin
    if (request.from === origin || (Array.isArray(request.skip) && request.skip.includes(origin))) return
    const after =
      typeof request.after === 'object' && request.after !== null
        ? (request.after as Record<string, unknown>)[origin]
        : undefined
    const since = typeof request.since === 'number' ? request.since : Date.now()
    const head = Buffer.from(`\0\0${origin}`)
    head[1] = head.length - 2
    const nc = this.conn.connection
    let parts: Buffer[] = []
    let size = 0
    let complete = true
    const send = (kind: number, body: Buffer[]): void => {
      head[0] = kind
      try {
        nc.publish(reply, Buffer.concat([head, ...body]))
      } catch (error) {
        complete = false
        this.logger.warn({ err: error }, 'cluster: could not send missed messages to a node')
      }
    }
    const kept = this.history.visit(
      typeof after === 'number' ? after : undefined,
      since,
      Date.now(),
      (subject, data) => {
        const subjectBytes = Buffer.from(subject)
        const record = Buffer.allocUnsafe(6 + subjectBytes.length + data.length)
        record.writeUInt16BE(subjectBytes.length, 0)
        subjectBytes.copy(record, 2)
        record.writeUInt32BE(data.length, 2 + subjectBytes.length)
        record.set(data, 6 + subjectBytes.length)
        if (size > 0 && size + record.length > CHUNK_BYTES) {
          send(DATA, parts)
          parts = []
          size = 0
        }
        parts.push(record)
        size += record.length
      },
    )
    if (size > 0) send(DATA, parts)
    send(END, [Buffer.from([kept && complete ? 1 : 0])])
    this.logger.debug(
      { to: request.from, after, since, complete: kept && complete },
      'cluster: sent missed messages',
    )
  }
}

/** The node id part of an origin (`<node id>#<suffix>`, cluster-router.ts). */
function nodeOf(origin: string): string {
  const hash = origin.lastIndexOf('#')
  return hash < 0 ? origin : origin.slice(0, hash)
}

function found(_value: true, box: { hit: boolean }): void {
  box.hit = true
}

function matches(filters: LevelTree<true>, topic: string): boolean {
  const box = { hit: false }
  filters.matchTopic(topic, found, box)
  return box.hit
}
