/**
 * MQTT 5 message properties as one NATS header value: JSON with the correlation data in
 * base64 and every non-ASCII character as a `\uXXXX` escape, so the value is plain ASCII
 * without CR/LF whatever the properties hold. Decoding checks every field, since the header
 * comes from another node (or anyone who can publish to the stream).
 */
import type { MessageProperties, UserProperties } from '../broker/types.ts'

interface Wire {
  pfi?: boolean
  mei?: number
  ct?: string
  rt?: string
  cd?: string
  up?: UserProperties
}

/** The header value, or undefined when there is nothing to carry. */
export function encodeProperties(p: MessageProperties): string | undefined {
  const w: Wire = {}
  if (p.payloadFormatIndicator !== undefined) w.pfi = p.payloadFormatIndicator
  if (p.messageExpiryInterval !== undefined) w.mei = p.messageExpiryInterval
  if (p.contentType !== undefined) w.ct = p.contentType
  if (p.responseTopic !== undefined) w.rt = p.responseTopic
  if (p.correlationData !== undefined) w.cd = p.correlationData.toString('base64')
  if (p.userProperties !== undefined) w.up = p.userProperties
  const json = JSON.stringify(w)
  if (json === '{}') return undefined
  return json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** The properties, or undefined when the header is not something `encodeProperties` wrote. */
export function decodeProperties(header: string): MessageProperties | undefined {
  let w: unknown
  try {
    w = JSON.parse(header)
  } catch {
    return undefined
  }
  if (typeof w !== 'object' || w === null || Array.isArray(w)) return undefined
  const o = w as Record<string, unknown>
  const p: MessageProperties = {}
  if (typeof o.pfi === 'boolean') p.payloadFormatIndicator = o.pfi
  if (typeof o.mei === 'number' && Number.isInteger(o.mei) && o.mei >= 0) p.messageExpiryInterval = o.mei
  if (typeof o.ct === 'string') p.contentType = o.ct
  if (typeof o.rt === 'string') p.responseTopic = o.rt
  if (typeof o.cd === 'string') p.correlationData = Buffer.from(o.cd, 'base64')
  const up = userProperties(o.up)
  if (up) p.userProperties = up
  return p
}

function userProperties(v: unknown): UserProperties | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined
  const out: UserProperties = {}
  for (const [k, val] of Object.entries(v)) {
    const ok = typeof val === 'string' || (Array.isArray(val) && val.every((x) => typeof x === 'string'))
    // defineProperty, not `out[k] =`: a user property named `__proto__` stays data.
    if (ok)
      Object.defineProperty(out, k, { value: val, enumerable: true, writable: true, configurable: true })
  }
  return out
}
