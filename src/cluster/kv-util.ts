/** Small shared pieces for compare-and-set on JetStream KV. */
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream'
import type { KvEntry } from '@nats-io/kv'

/** True when a create/update/delete lost a compare-and-set race (the revision moved on). */
export function isRevisionConflict(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamWrongLastSequence ||
      error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  )
}

/** The entry when it holds a value, undefined when missing or deleted (a DEL/PURGE marker). */
export function liveEntry(entry: KvEntry | null): KvEntry | undefined {
  return entry && entry.operation === 'PUT' ? entry : undefined
}

/** Parses a JSON KV value written by another node; undefined when it is not an object. */
export function jsonObject(entry: KvEntry): Record<string, unknown> | undefined {
  try {
    const v: unknown = entry.json()
    return typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}
