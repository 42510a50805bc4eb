import type { MessageProperties } from '../broker/types.ts'

/**
 * MQTT 5 properties as they cross into and out of a script: JSON, with correlation data as
 * an array of byte values (the guest turns it into a Uint8Array). Only known keys with the
 * right types survive the trip back, so a script cannot hand the broker anything malformed.
 */
export interface JsonProperties {
  payloadFormatIndicator?: boolean
  messageExpiryInterval?: number
  contentType?: string
  responseTopic?: string
  correlationData?: number[]
  userProperties?: Record<string, string | string[]>
}

/** What a script sees; the expiry interval counts down to what is left of it. */
export function propertiesForScript(
  properties: MessageProperties | undefined,
  expiresAt: number | undefined,
  now: number,
): JsonProperties | undefined {
  if (!properties) return undefined
  const out: JsonProperties = {}
  if (properties.payloadFormatIndicator !== undefined)
    out.payloadFormatIndicator = properties.payloadFormatIndicator
  if (properties.contentType !== undefined) out.contentType = properties.contentType
  if (properties.responseTopic !== undefined) out.responseTopic = properties.responseTopic
  if (properties.correlationData !== undefined) out.correlationData = Array.from(properties.correlationData)
  if (properties.userProperties !== undefined) out.userProperties = properties.userProperties
  if (expiresAt !== undefined) out.messageExpiryInterval = Math.max(1, Math.ceil((expiresAt - now) / 1000))
  else if (properties.messageExpiryInterval !== undefined)
    out.messageExpiryInterval = properties.messageExpiryInterval
  return Object.keys(out).length > 0 ? out : undefined
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Parses and checks what a script passed as `ms_publish(…, { properties })`. */
export function propertiesFromScript(json: string): MessageProperties | undefined {
  const raw: unknown = JSON.parse(json)
  if (!isRecord(raw)) return undefined
  const out: MessageProperties = {}
  if (typeof raw.payloadFormatIndicator === 'boolean') out.payloadFormatIndicator = raw.payloadFormatIndicator
  const expiry = raw.messageExpiryInterval
  if (typeof expiry === 'number' && Number.isInteger(expiry) && expiry >= 0 && expiry <= 0xffffffff) {
    out.messageExpiryInterval = expiry
  }
  if (typeof raw.contentType === 'string') out.contentType = raw.contentType
  if (typeof raw.responseTopic === 'string' && raw.responseTopic !== '' && !/[+#]/.test(raw.responseTopic)) {
    out.responseTopic = raw.responseTopic
  }
  const correlation = raw.correlationData
  if (Array.isArray(correlation) && correlation.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
    out.correlationData = Buffer.from(correlation as number[])
  }
  if (isRecord(raw.userProperties)) {
    const user: Record<string, string | string[]> = {}
    for (const [key, value] of Object.entries(raw.userProperties)) {
      if (typeof value === 'string') user[key] = value
      else if (Array.isArray(value) && value.every((v) => typeof v === 'string'))
        user[key] = value as string[]
    }
    if (Object.keys(user).length > 0) out.userProperties = user
  }
  return Object.keys(out).length > 0 ? out : undefined
}
