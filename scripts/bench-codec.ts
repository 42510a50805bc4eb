/**
 * PUBLISH decode throughput: mqtt-packet's parser against the hand-written decoder in
 * src/broker/protocol/decode.ts — the measurement behind hand-writing the hot path.
 * Run: node --import tsx scripts/bench-codec.ts
 */
import mqttPacket from 'mqtt-packet'
import { decodePacket } from '../src/broker/protocol/decode.ts'

const count = 1_000_000
const packet = mqttPacket.generate({
  cmd: 'publish',
  topic: 'bench/sensor/42',
  payload: Buffer.alloc(64, 1),
  qos: 0,
  retain: false,
  dup: false,
})
const header = packet[0]!
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
