import { expiryFrom } from './expiry.ts'
import { InvalidTopicError, topicNameError } from './topic-rules.ts'
import type { Message, PublishInput } from './types.ts'

/** An embedder's or script's publish as the message the broker routes; throws on a bad topic or QoS. */
export function messageFrom(input: PublishInput): Message {
  const problem = topicNameError(input.topic)
  if (problem) throw new InvalidTopicError(input.topic, problem)
  const qos = input.qos ?? 0
  if (qos !== 0 && qos !== 1 && qos !== 2) throw new Error(`invalid QoS ${String(qos)}`)
  const retain = input.retain === true
  const payload = toBuffer(input.payload)
  return {
    topic: input.topic,
    // A message that may be kept gets its own copy: the caller may reuse its buffer.
    payload: qos > 0 || retain ? Buffer.from(payload) : payload,
    qos,
    retain,
    properties: input.properties,
    expiresAt: expiryFrom(input.properties?.messageExpiryInterval),
  }
}

function toBuffer(payload: PublishInput['payload']): Buffer {
  if (payload === undefined) return Buffer.alloc(0)
  if (typeof payload === 'string') return Buffer.from(payload)
  if (Buffer.isBuffer(payload)) return payload
  return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
}
