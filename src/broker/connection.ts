import type { Duplex } from 'node:stream'
import type { FlowSource, FlowSubscriber } from './flow.ts'
import { encodeAck, encodePublish, encodePublish5, type OutgoingProperties } from './protocol/encode.ts'
import { Framer } from './protocol/framer.ts'
import { PacketType, type Will } from './protocol/packets.ts'
import type { Session, SessionOutlet } from './sessions.ts'
import type { ClientInfo, Message, ProtocolVersion, QoS, TrafficCounters } from './types.ts'

function ownCounters(): TrafficCounters {
  return { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0 }
}

/**
 * A client's byte stream: a TCP socket, a TLS socket, or a WebSocket wrapped as a Duplex
 * (which has no address of its own, so the listener passes it along).
 */
export type ClientStream = Duplex & {
  remoteAddress?: string | undefined
  remotePort?: number | undefined
  setNoDelay?: (noDelay?: boolean) => unknown
}

/** What a connection reports to the connection set that accepted it (connections.ts). */
export interface ConnectionOwner {
  /** May throw: a ProtocolError (or any bug) closes this connection only. */
  handlePacket(connection: Connection, header: number, body: Buffer): void
  protocolError(connection: Connection, error: unknown): void
  connectionClosed(connection: Connection): void
}

/**
 * Encoded QoS 0 PUBLISH bytes cached on the message, so fan-out to many MQTT 3.x subscribers
 * encodes once and writes the same buffer to every socket.
 */
const wireQos0 = Symbol('wireQos0')
type CachedMessage = Message & { [wireQos0]?: Buffer }

/** Above this many unsent bytes a client counts as not reading; its QoS 0 messages are shed. */
const maxBufferedBytes = 8 * 1024 * 1024

/** How long a peer gets to close its side after we closed ours. */
const closeGraceMs = 2000

/**
 * Sockets we ended, with the time by which the peer must have closed too: a peer that never
 * reads would keep a half-closed socket forever. One sweep for all instead of a timer per
 * close, whose closure kept every closed connection alive for the grace period (under connect
 * churn that is thousands of connections promoted to the old generation).
 */
const closing = new Map<ClientStream, number>()
let closingSweep: NodeJS.Timeout | undefined

function destroyLater(socket: ClientStream): void {
  closing.set(socket, Date.now() + closeGraceMs)
  if (closingSweep === undefined) {
    closingSweep = setInterval(sweepClosing, closeGraceMs / 4)
    closingSweep.unref()
  }
}

function sweepClosing(): void {
  const now = Date.now()
  // Insertion order is deadline order.
  for (const [socket, deadline] of closing) {
    if (deadline > now) break
    closing.delete(socket)
    socket.destroy()
  }
  if (closing.size === 0) {
    clearInterval(closingSweep)
    closingSweep = undefined
  }
}

/**
 * Connections that corked their socket this tick, uncorked together by one nextTick callback
 * rather than a closure and a callback per connection.
 */
const corked: Connection[] = []

function uncorkAll(): void {
  // A connection written to while this runs is appended and uncorked in the same pass.
  for (let i = 0; i < corked.length; i++) corked[i]?.uncork()
  corked.length = 0
}

/**
 * The connection a socket carries, so that its listeners are three functions shared by all
 * connections instead of three closures each (idle memory per client, issue 17).
 */
const connectionOf = Symbol('connection')
type OwnedStream = ClientStream & { [connectionOf]?: Connection }

function onSocketData(this: OwnedStream, chunk: Buffer): void {
  this[connectionOf]?.received(chunk)
}

function onSocketError(this: OwnedStream): void {
  const connection = this[connectionOf]
  // 'close' follows and does the cleanup; the reason is recorded there.
  if (connection) connection.closeReason ||= 'socket error'
}

function onSocketClose(this: OwnedStream): void {
  closing.delete(this)
  this[connectionOf]?.socketClosed()
}

/**
 * One client connection over any ClientStream (TCP, TLS or WebSocket): framing in, batched
 * writes out, keepalive bookkeeping.
 */
export class Connection implements SessionOutlet, FlowSource {
  state: 'connecting' | 'connected' | 'closed' = 'connecting'
  /** Releases the cluster's claim on the client id (ClientClaims), once the connection ended. */
  claimRelease: (() => void) | undefined
  version: ProtocolVersion = 4
  clientId = ''
  username: string | undefined
  keepalive = 0
  cleanSession = true
  /** A Mosquitto-style bridge: its subscriptions get No Local and Retain As Published. */
  bridge = false
  session: Session | undefined
  will: Will | undefined
  /** Set once DISCONNECT arrived: the will is discarded [MQTT-3.14.4-3]. */
  disconnected = false
  closeReason = ''
  lastActivity = Date.now()
  readonly createdAt = Date.now()
  /** ms since the epoch (a number: a Date per connection costs RSS on idle clients). */
  connectedAt: number | undefined
  readonly address: string
  readonly remotePort: number
  /** MQTT 5 limits the client announced in CONNECT (3.x clients get the defaults). */
  receiveMaximum = 65_535
  maxPacketSize = Number.POSITIVE_INFINITY
  topicAliasMaximum = 0
  /** MQTT 5 Request Problem Information: when false, no reason strings on acknowledgements. */
  problemInformation = true
  /** Topic aliases the client set towards us, and the ones we set towards it. */
  /** Created on first use: most clients never use aliases, and idle connections should stay small. */
  inboundAliases: Map<number, string> | undefined
  private outboundAliases: Map<string, number> | undefined
  /** Acknowledgements waiting for the store to flush (see Persistence.acknowledge). */
  heldAcks: { packet: Buffer; after: number }[] | undefined
  bytesIn = 0
  bytesOut = 0
  packetsIn = 0
  packetsOut = 0
  /** Congested subscriber sessions this connection's publishing waits for (see flow.ts). */
  waitingOn: Set<FlowSubscriber> | undefined

  private readonly framer: Framer<Connection>
  private corked = false

  constructor(
    readonly socket: ClientStream,
    private readonly owner: ConnectionOwner,
    maxPacketSize: number,
    readonly listener = 'mqtt',
    private readonly totals: TrafficCounters = ownCounters(),
  ) {
    this.address = socket.remoteAddress ?? ''
    this.remotePort = socket.remotePort ?? 0
    this.framer = new Framer<Connection>(maxPacketSize, this.onPacket, this)
    socket.setNoDelay?.(true)
    ;(socket as OwnedStream)[connectionOf] = this
    socket.on('data', onSocketData)
    socket.on('error', onSocketError)
    socket.on('close', onSocketClose)
  }

  /** The socket's 'close' (onSocketClose). */
  socketClosed(): void {
    this.closeReason ||= 'connection lost'
    this.framer.stop()
    this.owner.connectionClosed(this)
  }

  /** The framer's sink, called with this connection as `this`. */
  private onPacket(header: number, body: Buffer): void {
    this.packetsIn++
    this.totals.packetsIn++
    this.owner.handlePacket(this, header, body)
  }

  /** Ends this tick's cork (uncorkAll). */
  uncork(): void {
    this.corked = false
    this.socket.uncork()
  }

  get writable(): boolean {
    return this.socket.writableLength < maxBufferedBytes
  }

  get info(): ClientInfo {
    return {
      clientId: this.clientId,
      address: this.address,
      port: this.remotePort,
      protocolVersion: this.version,
      cleanSession: this.cleanSession,
      keepalive: this.keepalive,
      username: this.username,
      connectedAt: new Date(this.connectedAt ?? this.createdAt),
      bridge: this.bridge,
    }
  }

  /**
   * A read from the socket (onSocketData). The one place where framing and handler errors are
   * caught, so none leaves the event loop.
   */
  received(chunk: Buffer): void {
    this.bytesIn += chunk.length
    this.totals.bytesIn += chunk.length
    this.lastActivity = Date.now()
    try {
      this.framer.push(chunk)
    } catch (error) {
      this.owner.protocolError(this, error)
    }
  }

  /**
   * Stops reading this client (flow control): no packet after the current one is handled,
   * and the socket stops reading, so TCP back-pressure slows the publisher. For a WebSocket
   * the stream's buffer fills and ws pauses the socket under it.
   */
  pause(): void {
    if (this.state === 'closed') return
    this.framer.pause()
    this.socket.pause()
  }

  /** Reads again: first the packets that waited, which may pause it again. */
  resume(): void {
    if (this.state === 'closed') return
    // Time spent held back is not the client's silence.
    this.lastActivity = Date.now()
    try {
      this.framer.resume()
    } catch (error) {
      this.owner.protocolError(this, error)
      return
    }
    if (this.waitingOn === undefined || this.waitingOn.size === 0) this.socket.resume()
  }

  /** Writes are corked for the rest of this tick, so many small packets leave in one syscall. */
  write(data: Buffer): void {
    if (this.state === 'closed') return
    if (!this.corked) {
      this.corked = true
      this.socket.cork()
      if (corked.push(this) === 1) process.nextTick(uncorkAll)
    }
    this.bytesOut += data.length
    this.totals.bytesOut += data.length
    this.packetsOut++
    this.totals.packetsOut++
    this.socket.write(data)
  }

  sendPublish(
    message: Message,
    qos: QoS,
    retain: boolean,
    dup: boolean,
    messageId?: number,
    subscriptionIds?: number[],
  ): boolean {
    this.totals.messagesOut++
    if (this.version === 5) return this.sendPublish5(message, qos, retain, dup, messageId, subscriptionIds)
    if (qos === 0 && !retain) {
      const cached = message as CachedMessage
      let wire = cached[wireQos0]
      if (!wire) {
        wire = encodePublish({
          topic: message.topic,
          payload: message.payload,
          qos: 0,
          retain: false,
          dup: false,
        })
        cached[wireQos0] = wire
      }
      this.write(wire)
      return true
    }
    this.write(encodePublish({ topic: message.topic, payload: message.payload, qos, retain, dup, messageId }))
    return true
  }

  private sendPublish5(
    message: Message,
    qos: QoS,
    retain: boolean,
    dup: boolean,
    messageId: number | undefined,
    subscriptionIds: number[] | undefined,
  ): boolean {
    const properties: OutgoingProperties = { ...message.properties }
    if (message.expiresAt !== undefined) {
      // Forward what is left of the interval, not what the publisher set [MQTT-3.3.2-6].
      properties.messageExpiryInterval = Math.max(0, Math.ceil((message.expiresAt - Date.now()) / 1000))
    }
    if (subscriptionIds) {
      const first = subscriptionIds[0]
      properties.subscriptionIdentifier =
        subscriptionIds.length === 1 && first !== undefined ? first : subscriptionIds
    }
    let topic = message.topic
    let newAlias: number | undefined
    if (this.topicAliasMaximum > 0) {
      this.outboundAliases ??= new Map()
      const alias = this.outboundAliases.get(topic)
      if (alias !== undefined) {
        properties.topicAlias = alias
        topic = ''
      } else if (this.outboundAliases.size < this.topicAliasMaximum) {
        newAlias = this.outboundAliases.size + 1
        properties.topicAlias = newAlias
      }
    }
    const wire = encodePublish5({ topic, payload: message.payload, qos, retain, dup, messageId }, properties)
    if (wire.length > this.maxPacketSize) {
      this.totals.messagesOut--
      return false
    }
    if (newAlias !== undefined) this.outboundAliases?.set(message.topic, newAlias)
    this.write(wire)
    return true
  }

  sendPubrel(messageId: number): void {
    this.write(encodeAck(PacketType.pubrel, messageId, this.version))
  }

  /**
   * Encodes an MQTT 5 packet with a reason string when the client wants one (Request Problem
   * Information; `always` for CONNACK/DISCONNECT, which ignore it) and it still fits the
   * client's Maximum Packet Size [MQTT-3.4.2-2, 3.14.2-3]; without it otherwise.
   */
  withReason(encode: (reasonString?: string) => Buffer, text: string, always = false): Buffer {
    if (always || this.problemInformation) {
      const full = encode(text)
      if (full.length <= this.maxPacketSize) return full
    }
    return encode(undefined)
  }

  /** Stops reading; flushes what was written (a CONNACK, say), then closes the socket. */
  close(reason: string): void {
    if (this.state === 'closed') return
    this.closeReason ||= reason
    this.state = 'closed'
    this.framer.stop()
    // Closed from the socket's own 'close': end() would only build an error object (with its
    // stack trace) to say the stream is gone — about 20 µs per client that simply went away.
    if (this.socket.destroyed) return
    if (this.disconnected) {
      // The client said goodbye: nothing more is owed to it, so close at once rather than
      // shutdown() now and close() when its FIN arrives (one syscall and one event less per
      // connection under connect churn).
      this.socket.destroy()
      return
    }
    this.socket.end()
    destroyLater(this.socket)
  }
}
