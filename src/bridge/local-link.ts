import mqttPacket, {
  type IConnackPacket,
  type IPublishPacket,
  type ISubackPacket,
  type Packet,
  type QoS,
} from 'mqtt-packet'
import type { Logger } from 'pino'
import type { Broker } from '../broker/broker.ts'
import { isFailure, Reason } from '../broker/protocol/reason-codes.ts'
import type { MessageProperties } from '../broker/types.ts'
import { duplexPair, type Side } from './duplex-pair.ts'
import type { BridgeSubscription } from './topic-map.ts'

/** A message the local broker delivered to the bridge. */
export interface LocalMessage {
  topic: string
  payload: Buffer
  qos: QoS
  retain: boolean
  properties: MessageProperties | undefined
}

export interface LocalLinkOptions {
  clientId: string
  username: string | undefined
  password: Buffer | undefined
  subscriptions: readonly BridgeSubscription[]
  logger: Logger
  /**
   * Called per delivered message; `done` acknowledges it to the broker (PUBACK, or PUBREC for
   * QoS 2), which until then keeps it in the bridge's session: that session is the queue.
   */
  onMessage(message: LocalMessage, done: () => void): void
}

const v5 = { protocolVersion: 5 }
/** The bridge's session outlives its connection until it is removed (MQTT 5 "never expires"). */
const neverExpires = 0xffff_ffff
const relinkMs = 1000

type Outcome = 'done' | 'lost'

interface Outgoing {
  resolve(outcome: Outcome): void
  /** QoS 2: PUBREC seen, PUBREL sent. */
  released: boolean
}

/**
 * The bridge's MQTT 5 session on this broker, over an in-memory stream handed to
 * broker.accept, so it is a client like any other: persistent, queued while the remote is
 * away, and stored with the broker's sessions. Messages come in through subscriptions with
 * No Local (what the bridge publishes here never goes back out) and Retain As Published.
 *
 * Written on mqtt-packet rather than MQTT.js because MQTT.js handles incoming packets one at a
 * time: holding one acknowledgement until the remote has the message would stall every other
 * message behind it, where this keeps up to the broker's in-flight window moving at once.
 */
export class LocalLink {
  private stream: Side | undefined
  private connected = false
  private stopped = false
  private nextId = 1
  private readonly outgoing = new Map<number, Outgoing>()
  private readonly waitingForLink: (() => void)[] = []
  private relinkTimer: NodeJS.Timeout | undefined
  private pingTimer: NodeJS.Timeout | undefined
  private closed: (() => void) | undefined

  constructor(
    private readonly broker: Broker,
    private readonly options: LocalLinkOptions,
  ) {}

  get isConnected(): boolean {
    return this.connected
  }

  start(): void {
    if (this.stopped || this.stream) return
    const [mine, theirs] = duplexPair()
    this.stream = mine
    const parser = mqttPacket.parser(v5)
    parser.on('packet', (packet: Packet) => {
      try {
        this.handle(mine, packet)
      } catch (error) {
        this.options.logger.error({ err: error }, 'bridge: local packet handling failed')
        mine.destroy()
      }
    })
    parser.on('error', (error: Error) => {
      this.options.logger.error({ err: error }, 'bridge: bad packet from the local broker')
      mine.destroy()
    })
    mine.on('data', (chunk: Buffer) => parser.parse(chunk))
    mine.on('error', () => {})
    mine.on('close', () => this.onClose(mine))
    this.broker.accept(theirs, 'bridge')
    const { clientId, username, password } = this.options
    this.send(mine, {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clean: false,
      clientId,
      keepalive: 0,
      ...(username === undefined ? {} : { username }),
      ...(password === undefined ? {} : { password }),
      properties: { sessionExpiryInterval: neverExpires },
    })
  }

  /**
   * Publishes on this broker as the bridge; resolves once the broker acknowledged it. A message
   * whose link is lost before that is sent again on the next one; rejects only once stopped.
   */
  async publish(message: LocalMessage): Promise<void> {
    const packet: IPublishPacket = {
      cmd: 'publish',
      topic: message.topic,
      payload: message.payload,
      qos: message.qos,
      retain: message.retain,
      dup: false,
      ...(message.properties ? { properties: message.properties } : {}),
    }
    for (;;) {
      const stream = await this.ready()
      if (message.qos === 0) {
        this.send(stream, packet)
        return
      }
      const messageId = this.allocateId()
      const outcome = new Promise<Outcome>((resolve) =>
        this.outgoing.set(messageId, { resolve, released: false }),
      )
      this.send(stream, { ...packet, messageId })
      if ((await outcome) === 'done') return
    }
  }

  private async ready(): Promise<Side> {
    for (;;) {
      if (this.stopped) throw new Error('bridge stopped')
      if (this.connected && this.stream) return this.stream
      await new Promise<void>((resolve) => this.waitingForLink.push(resolve))
    }
  }

  /** Unacknowledged messages the bridge published here. */
  get pending(): number {
    return this.outgoing.size
  }

  /** Disconnects normally: the session and its queue stay with the broker. */
  async close(): Promise<void> {
    this.stopped = true
    clearTimeout(this.relinkTimer)
    clearInterval(this.pingTimer)
    for (const wake of this.waitingForLink.splice(0)) wake()
    const stream = this.stream
    if (!stream) return
    const closed = new Promise<void>((resolve) => {
      this.closed = resolve
    })
    if (this.connected) this.send(stream, { cmd: 'disconnect' })
    stream.end()
    // The broker closes its side on DISCONNECT; if it is already gone, destroy finishes it.
    setImmediate(() => stream.destroy())
    await closed
  }

  private handle(stream: Side, packet: Packet): void {
    switch (packet.cmd) {
      case 'connack':
        this.onConnack(stream, packet)
        break
      case 'suback':
        this.onSuback(packet)
        break
      case 'publish':
        this.onPublish(stream, packet)
        break
      case 'pubrel':
        // QoS 2 from the broker: our PUBREC went after the remote had the message.
        this.send(stream, { cmd: 'pubcomp', messageId: packet.messageId ?? 0 })
        break
      case 'puback':
      case 'pubcomp':
        this.settle(packet.messageId)
        break
      case 'pubrec': {
        const id = packet.messageId ?? 0
        const entry = this.outgoing.get(id)
        // A refusal (a failure reason code) ends the exchange at PUBREC.
        if (entry && !isFailure(packet.reasonCode ?? Reason.success)) {
          entry.released = true
          this.send(stream, { cmd: 'pubrel', messageId: id })
        } else this.settle(id)
        break
      }
      case 'disconnect':
        this.options.logger.warn(
          { reasonCode: packet.reasonCode },
          'bridge: the local broker disconnected the bridge',
        )
        break
      default:
        break
    }
  }

  private onConnack(stream: Side, packet: IConnackPacket): void {
    const code = packet.reasonCode ?? packet.returnCode ?? Reason.success
    if (code !== Reason.success) {
      this.options.logger.error(
        { clientId: this.options.clientId, reasonCode: code },
        'bridge: the local broker refused the bridge (check localUsername/localPassword and the ACL)',
      )
      stream.destroy()
      return
    }
    const serverKeepAlive = packet.properties?.serverKeepAlive
    if (serverKeepAlive) {
      // The broker caps keepalive (maxKeepalive): stay visible within it.
      this.pingTimer = setInterval(() => this.send(stream, { cmd: 'pingreq' }), (serverKeepAlive * 1000) / 2)
      this.pingTimer.unref()
    }
    // A resumed session may hold subscriptions the configuration no longer has.
    const wanted = new Set(this.options.subscriptions.map((s) => s.filter))
    const stale = this.ownSubscriptions().filter((f) => !wanted.has(f))
    if (stale.length > 0)
      this.send(stream, { cmd: 'unsubscribe', messageId: this.allocateId(), unsubscriptions: stale })
    if (this.options.subscriptions.length === 0) {
      this.linked()
      return
    }
    this.send(stream, {
      cmd: 'subscribe',
      messageId: this.allocateId(),
      subscriptions: this.options.subscriptions.map(({ filter, qos }) => ({
        topic: filter,
        qos,
        nl: true,
        rap: true,
        // Retained messages once, not again on every restart of a kept session.
        rh: 1,
      })),
    })
  }

  private onSuback(packet: ISubackPacket): void {
    const refused = packet.granted.filter((code) => typeof code === 'number' && isFailure(code)).length
    if (refused > 0) {
      this.options.logger.error(
        { clientId: this.options.clientId, refused },
        'bridge: the local broker refused some of the bridge subscriptions',
      )
    }
    this.linked()
  }

  private linked(): void {
    if (this.connected) return
    this.connected = true
    for (const wake of this.waitingForLink.splice(0)) wake()
  }

  private onPublish(stream: Side, packet: IPublishPacket): void {
    const message: LocalMessage = {
      topic: packet.topic,
      payload: typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload,
      qos: packet.qos,
      retain: packet.retain,
      properties: messageProperties(packet.properties),
    }
    const id = packet.messageId ?? 0
    let acked = false
    this.options.onMessage(message, () => {
      // An acknowledgement for an earlier connection is dropped: the broker resends the message.
      if (acked || packet.qos === 0 || this.stream !== stream || stream.destroyed) return
      acked = true
      this.send(stream, { cmd: packet.qos === 1 ? 'puback' : 'pubrec', messageId: id })
    })
  }

  private settle(messageId: number | undefined): void {
    const id = messageId ?? 0
    const entry = this.outgoing.get(id)
    if (!entry) return
    this.outgoing.delete(id)
    entry.resolve('done')
  }

  private onClose(stream: Side): void {
    if (this.stream !== stream) return
    this.stream = undefined
    this.connected = false
    clearInterval(this.pingTimer)
    // Unacknowledged publishes go again on the next connection. A QoS 2 message the broker
    // answered with PUBREC is its own already; sending it again would duplicate it.
    const unsettled = [...this.outgoing.values()]
    this.outgoing.clear()
    for (const entry of unsettled) entry.resolve(entry.released ? 'done' : 'lost')
    for (const wake of this.waitingForLink.splice(0)) wake()
    if (this.stopped) {
      this.closed?.()
      return
    }
    this.options.logger.warn({ clientId: this.options.clientId }, 'bridge: local link closed, reconnecting')
    this.relinkTimer = setTimeout(() => this.start(), relinkMs)
    this.relinkTimer.unref()
  }

  private ownSubscriptions(): string[] {
    const me = this.broker.clientDetails().find((c) => c.clientId === this.options.clientId)
    return me ? me.subscriptions.map((s) => s.filter) : []
  }

  private allocateId(): number {
    for (let i = 0; i < 65_535; i++) {
      const id = this.nextId
      this.nextId = id === 65_535 ? 1 : id + 1
      if (!this.outgoing.has(id)) return id
    }
    throw new Error('bridge: no free packet id')
  }

  private send(stream: Side, packet: Packet): void {
    if (stream.destroyed || stream.writableEnded) return
    stream.write(mqttPacket.generate(packet, v5))
  }
}

/** The properties of a delivered PUBLISH that travel on with the message. */
function messageProperties(p: IPublishPacket['properties']): MessageProperties | undefined {
  if (!p) return undefined
  const out: MessageProperties = {}
  if (p.payloadFormatIndicator !== undefined) out.payloadFormatIndicator = p.payloadFormatIndicator
  if (p.messageExpiryInterval !== undefined) out.messageExpiryInterval = p.messageExpiryInterval
  if (p.contentType !== undefined) out.contentType = p.contentType
  if (p.responseTopic !== undefined) out.responseTopic = p.responseTopic
  if (p.correlationData !== undefined) out.correlationData = p.correlationData
  if (p.userProperties !== undefined) out.userProperties = p.userProperties
  return Object.keys(out).length > 0 ? out : undefined
}
