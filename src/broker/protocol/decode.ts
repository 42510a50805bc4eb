import { isUtf8 } from 'node:buffer'
import mqttPacket from 'mqtt-packet'
import type { ProtocolVersion, QoS } from '../types.ts'
import { decodeSubscribe3 } from './decode-subscribe.ts'
import { ProtocolError } from './errors.ts'
import type { AckPacket, ConnectPacket, InboundPacket, PublishPacket } from './packets.ts'
import { PacketType } from './packets.ts'
import { checkProperties } from './properties.ts'
import { Reason } from './reason-codes.ts'
import { varintSize, writeVarint } from './varint.ts'

/**
 * The one module that turns packet bytes into packet objects.
 *
 * SUBSCRIBE, UNSUBSCRIBE and every MQTT 5 packet go through mqtt-packet. PUBLISH and the
 * four acknowledgements of MQTT 3.x — the message hot path — and the 3.x CONNECT — the
 * connection hot path — are decoded by hand: on our 2-core machine mqtt-packet parsed
 * 0.92 M PUBLISH packets/s (64-byte payload) against 5.75 M/s for this decoder, and
 * 0.13 M CONNECT/s against 1.08 M/s (`npm run bench -- codec`).
 */

/** CONNECT names a protocol level the broker does not speak: answer CONNACK 1, then close. */
export class UnsupportedProtocolError extends ProtocolError {
  constructor(readonly level: number) {
    super(`unsupported protocol level ${level}`, Reason.protocolError)
  }
}

const supportedLevels: Readonly<Record<string, readonly number[]>> = { MQTT: [4, 5], MQIsdp: [3] }

/**
 * Mosquitto's bridge marker (`try_private`): a bridge sends 3.1 or 3.1.1 with this bit set on
 * the protocol level, asking not to get its own messages back and to keep retain flags.
 */
const bridgeBit = 0x80

export function decodeConnect(header: number, body: Buffer): ConnectPacket {
  // Check name and level by hand first: the spec wants CONNACK 1 for an unknown level,
  // which mqtt-packet reports as a generic parse error.
  if (body.length < 2) throw new ProtocolError('CONNECT too short')
  const nameLength = body.readUInt16BE(0)
  if (body.length < 3 + nameLength) throw new ProtocolError('CONNECT too short')
  const name = body.toString('utf8', 2, 2 + nameLength)
  const levels = supportedLevels[name]
  if (!levels) throw new ProtocolError(`unknown protocol name ${JSON.stringify(name)}`)
  const wireLevel = body[2 + nameLength]
  if (wireLevel === undefined) throw new ProtocolError('CONNECT too short')
  // Mosquitto honours the bridge bit on 3.1 and 3.1.1 only; MQTT 5 has No Local instead.
  const bridge = (wireLevel & bridgeBit) !== 0 && wireLevel !== (bridgeBit | 5)
  const level = bridge ? wireLevel & ~bridgeBit : wireLevel
  if (!levels.includes(level)) throw new UnsupportedProtocolError(wireLevel)
  if (level !== 5) {
    const packet = decodeConnect3(body, 2 + nameLength, name, level as 3 | 4)
    if (bridge) packet.bridge = true
    return packet
  }
  const packet = parseWithLibrary(header, body, level as ProtocolVersion)
  if (packet.cmd !== 'connect') throw new ProtocolError('expected CONNECT')
  const connect = packet as unknown as ConnectPacket
  checkProperties('connect', connect.properties)
  checkProperties('will', connect.will?.properties)
  if (hasReplacementChar(connect.clientId)) throw new ProtocolError('client id is not valid UTF-8')
  if (connect.will) {
    if ((connect.will.qos ?? 0) > 2) throw new ProtocolError('will QoS 3 [MQTT-3.1.2-14]')
    if (hasReplacementChar(connect.will.topic)) throw new ProtocolError('will topic is not valid UTF-8')
    connect.will.payload = toBuffer(connect.will.payload)
    connect.will.qos = (connect.will.qos ?? 0) as QoS
    connect.will.retain = connect.will.retain === true
  }
  if (connect.username !== undefined && hasReplacementChar(connect.username)) {
    throw new ProtocolError('user name is not valid UTF-8')
  }
  checkStrings(connect.properties, 'CONNECT properties')
  checkStrings(connect.will?.properties, 'will properties')
  return connect
}

/** Connect flags [MQTT-3.1.2]. */
enum ConnectFlag {
  reserved = 0x01,
  cleanSession = 0x02,
  will = 0x04,
  willQosShift = 3,
  willRetain = 0x20,
  password = 0x40,
  username = 0x80,
}

/**
 * CONNECT of MQTT 3.1 and 3.1.1 by hand (MQTT 5, with its properties, stays with mqtt-packet).
 * Under connect churn (`npm run bench -- broker --scenarios connects`) mqtt-packet's CONNECT parse
 * was the broker's largest cost of its own: 8% of CPU samples, and a fifth of the bytes
 * allocated per connection in a sampling heap profile (its buffer list copies every field).
 * `pos` is where the protocol level byte is.
 */
function decodeConnect3(body: Buffer, pos: number, protocolId: string, level: 3 | 4): ConnectPacket {
  const reader = new FieldReader(body, pos + 1)
  const flags = reader.byte('connect flags')
  if (flags & ConnectFlag.reserved) throw new ProtocolError('Connect flag bit 0 must be 0, but got 1')
  const hasWill = (flags & ConnectFlag.will) !== 0
  const willQos = (flags >> ConnectFlag.willQosShift) & 3
  const willRetain = (flags & ConnectFlag.willRetain) !== 0
  if (!hasWill && willRetain)
    throw new ProtocolError('Will Retain Flag must be set to zero when Will Flag is set to 0')
  if (!hasWill && willQos !== 0)
    throw new ProtocolError('Will QoS must be set to zero when Will Flag is set to 0')
  if (willQos > 2) throw new ProtocolError('will QoS 3 [MQTT-3.1.2-14]')
  const hasPassword = (flags & ConnectFlag.password) !== 0
  const hasUsername = (flags & ConnectFlag.username) !== 0
  if (hasPassword && !hasUsername) {
    throw new ProtocolError('password without user name [MQTT-3.1.2-22]')
  }
  const keepalive = reader.uint16('keep alive')
  const packet: ConnectPacket = {
    cmd: 'connect',
    protocolId: protocolId as ConnectPacket['protocolId'],
    protocolVersion: level,
    clean: (flags & ConnectFlag.cleanSession) !== 0,
    keepalive,
    clientId: reader.string('client id'),
  }
  if (hasWill) {
    const topic = reader.string('will topic')
    packet.will = { topic, payload: reader.bytes('will payload'), qos: willQos as QoS, retain: willRetain }
  }
  if (hasUsername) packet.username = reader.string('user name')
  if (hasPassword) packet.password = reader.bytes('password')
  return packet
}

/** Reads the fields of a CONNECT body in order; throws ProtocolError past its end. */
class FieldReader {
  constructor(
    private readonly body: Buffer,
    private pos: number,
  ) {}

  byte(what: string): number {
    const value = this.body[this.pos++]
    if (value === undefined) throw new ProtocolError(`CONNECT too short: no ${what}`)
    return value
  }

  uint16(what: string): number {
    if (this.pos + 2 > this.body.length) throw new ProtocolError(`CONNECT too short: no ${what}`)
    const value = this.body.readUInt16BE(this.pos)
    this.pos += 2
    return value
  }

  /** A copy: the body is a view into the socket's read chunk, which a kept slice would keep alive whole. */
  bytes(what: string): Buffer {
    const length = this.uint16(what)
    const end = this.pos + length
    if (end > this.body.length) throw new ProtocolError(`CONNECT too short: ${what} cut off`)
    const value = Buffer.from(this.body.subarray(this.pos, end))
    this.pos = end
    return value
  }

  /** A UTF-8 string [MQTT-1.5.3]: ill-formed UTF-8 is a malformed packet [MQTT-1.5.3-1]. */
  string(what: string): string {
    const length = this.uint16(what)
    const end = this.pos + length
    if (end > this.body.length) throw new ProtocolError(`CONNECT too short: ${what} cut off`)
    if (!isUtf8(this.body.subarray(this.pos, end))) throw new ProtocolError(`${what} is not valid UTF-8`)
    const value = this.body.toString('utf8', this.pos, end)
    this.pos = end
    return value
  }
}

/** Decodes any packet after CONNECT. Throws ProtocolError on malformed input. */
export function decodePacket(header: number, body: Buffer, version: ProtocolVersion): InboundPacket {
  const type = header >> 4
  if (version !== 5) {
    switch (type) {
      case PacketType.publish:
        return decodePublish(header, body)
      case PacketType.puback:
      case PacketType.pubrec:
      case PacketType.pubrel:
      case PacketType.pubcomp:
        return decodeAck(type, body)
      case PacketType.pingreq:
        if (body.length !== 0) throw new ProtocolError('PINGREQ with a body')
        return { cmd: 'pingreq' }
      case PacketType.disconnect:
        if (body.length !== 0) throw new ProtocolError('DISCONNECT with a body')
        return { cmd: 'disconnect' }
      case PacketType.connect:
        throw new ProtocolError('second CONNECT on one connection [MQTT-3.1.0-2]', Reason.protocolError)
      case PacketType.subscribe:
        return decodeSubscribe3(body)
      case PacketType.unsubscribe:
        break
      default:
        throw new ProtocolError(`packet type ${type} is not sent by clients`, Reason.protocolError)
    }
  } else if (type === PacketType.connect) {
    throw new ProtocolError('second CONNECT on one connection [MQTT-3.1.0-2]', Reason.protocolError)
  }
  const packet = parseWithLibrary(header, body, version)
  if ('properties' in packet) checkProperties(packet.cmd, packet.properties)
  if ('properties' in packet) checkStrings(packet.properties, `${packet.cmd.toUpperCase()} properties`)
  if (packet.cmd === 'publish') {
    const publish = packet as unknown as PublishPacket
    if (hasReplacementChar(publish.topic))
      throw new ProtocolError('PUBLISH topic is not valid UTF-8', Reason.topicNameInvalid)
    publish.payload = toBuffer(publish.payload)
    return publish
  }
  if (packet.cmd === 'subscribe') {
    if (packet.subscriptions.length === 0)
      throw new ProtocolError('SUBSCRIBE without a topic filter [MQTT-3.8.3-3]')
    for (const sub of packet.subscriptions) {
      if (hasReplacementChar(sub.topic)) throw new ProtocolError('topic filter is not valid UTF-8')
    }
  } else if (packet.cmd === 'unsubscribe') {
    if (packet.unsubscriptions.length === 0) {
      throw new ProtocolError('UNSUBSCRIBE without a topic filter [MQTT-3.10.3-2]')
    }
    for (const filter of packet.unsubscriptions) {
      if (hasReplacementChar(filter)) throw new ProtocolError('topic filter is not valid UTF-8')
    }
  }
  return packet as InboundPacket
}

function decodePublish(header: number, body: Buffer): PublishPacket {
  if (body.length < 2) throw new ProtocolError('PUBLISH too short')
  const topicEnd = 2 + body.readUInt16BE(0)
  if (topicEnd > body.length) throw new ProtocolError('PUBLISH topic longer than the packet')
  const topicBytes = body.subarray(2, topicEnd)
  if (!isUtf8(topicBytes))
    throw new ProtocolError('PUBLISH topic is not valid UTF-8', Reason.topicNameInvalid)
  const qos = ((header >> 1) & 3) as QoS
  let pos = topicEnd
  let messageId: number | undefined
  if (qos > 0) {
    if (pos + 2 > body.length) throw new ProtocolError('PUBLISH without packet identifier')
    messageId = body.readUInt16BE(pos)
    if (messageId === 0) throw new ProtocolError('PUBLISH with packet identifier 0')
    pos += 2
  }
  return {
    cmd: 'publish',
    topic: topicBytes.toString(),
    payload: body.subarray(pos),
    qos,
    retain: (header & 1) === 1,
    dup: (header & 8) === 8,
    messageId,
  }
}

const ackNames = ['', '', '', '', 'puback', 'pubrec', 'pubrel', 'pubcomp'] as const

function decodeAck(type: number, body: Buffer): AckPacket {
  if (body.length !== 2) throw new ProtocolError(`${ackNames[type]} must have a 2-byte body`)
  return { cmd: ackNames[type] as AckPacket['cmd'], messageId: body.readUInt16BE(0) } as AckPacket
}

/** A parser with its last outcome: parsers are kept per protocol version and reused. */
interface LibraryParser {
  parser: ReturnType<typeof mqttPacket.parser>
  result: mqttPacket.Packet | undefined
  failure: Error | undefined
}

/**
 * Building an mqtt-packet parser (an EventEmitter, a buffer list, listeners) costs about as
 * much as the parse: an MQTT 3.1.1 CONNECT took 3.85 µs with a new parser each time and
 * 1.99 µs with one reused. A parser left in a doubtful state (error, unused bytes) is thrown
 * away rather than reused.
 */
const parsers = new Map<ProtocolVersion, LibraryParser>()

function libraryParser(version: ProtocolVersion): LibraryParser {
  let entry = parsers.get(version)
  if (entry === undefined) {
    const parser = mqttPacket.parser({ protocolVersion: version })
    const created: LibraryParser = { parser, result: undefined, failure: undefined }
    parser.on('packet', (packet: mqttPacket.Packet) => {
      created.result = packet
    })
    parser.on('error', (error: Error) => {
      created.failure ??= error
    })
    parsers.set(version, created)
    entry = created
  }
  return entry
}

function parseWithLibrary(header: number, body: Buffer, version: ProtocolVersion): mqttPacket.Packet {
  const entry = libraryParser(version)
  entry.result = undefined
  entry.failure = undefined
  const left = entry.parser.parse(Buffer.concat([frameHeader(header, body.length), body]))
  const result = entry.result as mqttPacket.Packet | undefined
  const failure = entry.failure as Error | undefined
  entry.result = undefined
  if (failure !== undefined || result === undefined || left > 0) parsers.delete(version)
  if (failure) throw new ProtocolError(failure.message)
  if (!result) throw new ProtocolError('incomplete packet')
  return result
}

function frameHeader(header: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(1 + varintSize(length))
  out[0] = header
  writeVarint(out, 1, length)
  return out
}

function toBuffer(value: string | Buffer | undefined): Buffer {
  if (value === undefined) return Buffer.alloc(0)
  return typeof value === 'string' ? Buffer.from(value) : value
}

/**
 * Every UTF-8 string in MQTT 5 properties (content type, response topic, reason string,
 * user property names and values …) must be well-formed [MQTT-1.5.4-1]; binary data
 * (correlation data, authentication data) is Buffers and is left alone.
 */
function checkStrings(value: unknown, where: string): void {
  if (typeof value === 'string') {
    if (hasReplacementChar(value)) throw new ProtocolError(`ill-formed UTF-8 in ${where}`)
  } else if (Array.isArray(value)) {
    for (const item of value) checkStrings(item, where)
  } else if (typeof value === 'object' && value !== null && !Buffer.isBuffer(value)) {
    for (const [key, item] of Object.entries(value)) {
      checkStrings(key, where)
      checkStrings(item, where)
    }
  }
}

/** mqtt-packet decodes strings leniently; invalid UTF-8 shows up as U+FFFD. */
function hasReplacementChar(s: string): boolean {
  return s.includes('\uFFFD')
}
