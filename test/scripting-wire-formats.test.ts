import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { QoS } from '../src/broker/types.ts'
import { type DeliveryBatch, DeliveryPacker, unpackDeliveries } from '../src/scripting/thread-batches.ts'
import {
  DELIVERY,
  decodeFlags,
  GUEST_PUBLISH,
  packFlags,
  recordSource,
} from '../src/scripting/wire-formats.ts'

describe('wire formats', () => {
  it('flags decode to what was packed, for every QoS and retain', () => {
    for (const qos of [0, 1, 2] as QoS[]) {
      for (const retain of [false, true])
        assert.deepEqual(decodeFlags(packFlags(qos, retain)), { qos, retain })
    }
  })

  it('a guest record lists its values in slot order, and every slot must have one', () => {
    const values = {
      TOPIC_LENGTH: 't',
      TEXT_LENGTH: 'x',
      FLAGS: 'f',
      BINARY_LENGTH: 'b',
      PROPERTIES_LENGTH: 'p',
    }
    const order = Object.entries(GUEST_PUBLISH)
      .filter(([k]) => k !== 'STRIDE')
      .sort((a, b) => a[1] - b[1])
      .map(([k]) => values[k as keyof typeof values])
    assert.equal(recordSource(GUEST_PUBLISH, values), order.join(', '))
    const { FLAGS: _, ...missing } = values
    assert.throws(() => recordSource(GUEST_PUBLISH, missing as typeof values), /not every slot/)
  })

  it('a delivery batch unpacks to the messages packed, payloads and flags intact', () => {
    const packer = new DeliveryPacker()
    const messages = Array.from({ length: 300 }, (_, i) => ({
      topic: `t/${i}`,
      payload: Buffer.from(`p${i}`),
      qos: (i % 3) as QoS,
      retain: i % 2 === 0,
      clientId: i % 5 === 0 ? undefined : `c${i}`,
    }))
    for (const [i, m] of messages.entries()) packer.add(7, i, m)
    const batch = packer.seal() as DeliveryBatch
    assert.equal(batch.meta.length, messages.length * DELIVERY.STRIDE)
    const seen: Array<{
      vmId: number
      subId: number
      topic: string
      payload: string
      qos: QoS
      retain: boolean
    }> = []
    unpackDeliveries(batch, (vmId, d) => {
      seen.push({
        vmId,
        subId: d.subId,
        topic: d.topic,
        payload: Buffer.from(d.payload).toString(),
        qos: d.qos,
        retain: d.retain,
      })
    })
    assert.deepEqual(
      seen,
      messages.map((m, i) => ({
        vmId: 7,
        subId: i,
        topic: m.topic,
        payload: m.payload.toString(),
        qos: m.qos,
        retain: m.retain,
      })),
    )
    assert.equal(packer.seal(), undefined)
  })
})
