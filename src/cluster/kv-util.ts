/** Small shared pieces for compare-and-set on JetStream KV. */
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream'
import type { KV, KvEntry } from '@nats-io/kv'

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

/** Deletes `key` if it is still at `revision`; false when another writer moved it on first. */
export async function deleteAt(kv: KV, key: string, revision: number): Promise<boolean> {
  try {
    await kv.delete(key, { previousSeq: revision })
    return true
  } catch (error) {
    if (isRevisionConflict(error)) return false
    throw error
  }
}

/**
 * The live entries of a bucket whose JSON value names, in `node`, a node not in `alive` (the
 * wills and client-id locks a dead node left). Lists every key: a request per key.
 */
export async function* entriesOfDeadNodes(
  kv: KV,
  alive: ReadonlySet<string>,
): AsyncGenerator<{ key: string; entry: KvEntry; value: Record<string, unknown>; node: string }> {
  for await (const key of await kv.keys()) {
    const entry = liveEntry(await kv.get(key))
    const value = entry && jsonObject(entry)
    const node = value?.node
    if (!entry || !value || typeof node !== 'string' || alive.has(node)) continue
    yield { key, entry, value, node }
  }
}
