/**
 * Decode throughput of PUBLISH and of a 3.1.1 CONNECT: mqtt-packet's parser against the
 * hand-written decoders in src/broker/protocol/decode.ts — the measurement behind
 * hand-writing those two. Run: npm run bench -- codec
 */
import mqttPacket from 'mqtt-packet'
import { decodeConnect, decodePacket } from '../../../src/broker/protocol/decode.ts'
import { Framer } from '../../../src/broker/protocol/framer.ts'

const count = 1_000_000

/** A packet's first byte, the fixed header the decoders take apart from its body. */
function headerOf(packet: Buffer): number {
  const header = packet[0]
  if (header === undefined) throw new Error('empty packet')
  return header
}
export function run(): number {
  const packet = mqttPacket.generate({
    cmd: 'publish',
    topic: 'bench/sensor/42',
    payload: Buffer.alloc(64, 1),
    qos: 0,
    retain: false,
    dup: false,
  })
  const header = headerOf(packet)
  const body = packet.subarray(2)

  function measure(name: string, run: () => void): void {
    run() // warm-up
    const start = process.hrtime.bigint()
    run()
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    console.log(`${name}: ${(count / seconds / 1e6).toFixed(2)} M packets/s`)
  }

  measure('mqtt-packet parser', () => {
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    let n = 0
    parser.on('packet', () => n++)
    for (let i = 0; i < count; i++) parser.parse(packet)
    if (n !== count) throw new Error(`parsed ${n}`)
  })

  measure('tinymqtt decoder', () => {
    let bytes = 0
    for (let i = 0; i < count; i++)
      bytes += (decodePacket(header, body, 4) as { payload: Buffer }).payload.length
    if (bytes !== count * 64) throw new Error('wrong payload size')
  })

  // CONNECT: what every connection costs once. A fresh parser per packet is what the broker
  // did before (a parser holds state across packets, and a connection's first packet is its
  // only CONNECT).
  const connect = mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clientId: 'gc1234-0000000001',
    clean: true,
    keepalive: 60,
  })
  const connectHeader = headerOf(connect)
  const connectBody = connect.subarray(2)

  measure('CONNECT, mqtt-packet, new parser each', () => {
    let n = 0
    for (let i = 0; i < count; i++) {
      const parser = mqttPacket.parser({ protocolVersion: 4 })
      parser.on('packet', () => n++)
      parser.parse(connect)
    }
    if (n !== count) throw new Error(`parsed ${n}`)
  })

  measure('CONNECT, tinymqtt decoder', () => {
    let n = 0
    for (let i = 0; i < count; i++) n += decodeConnect(connectHeader, connectBody).keepalive === 60 ? 1 : 0
    if (n !== count) throw new Error(`decoded ${n}`)
  })

  // Framing: a busy connection's socket is read 64 KiB at a time, and a packet is cut at the end
  // of nearly every read. Packets of 40–50 bytes, so that cuts fall in headers and bodies alike.
  const stream = Buffer.concat(
    Array.from({ length: 20_000 }, (_, i) =>
      mqttPacket.generate({
        cmd: 'publish',
        topic: `bench/${i % 100}/${i}`,
        payload: `{"n":${i}}`,
        qos: 0,
        retain: false,
        dup: false,
      }),
    ),
  )
  const reads: Buffer[] = []
  for (let at = 0; at < stream.length; at += 65_536) reads.push(stream.subarray(at, at + 65_536))

  measure('framer, 64 KiB reads', () => {
    let n = 0
    for (let pass = 0; pass < count / 20_000; pass++) {
      const framer = new Framer(2_000_000, () => n++)
      for (const read of reads) framer.push(read)
    }
    if (n !== count) throw new Error(`framed ${n}`)
  })
  return 0
}
