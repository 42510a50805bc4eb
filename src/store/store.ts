/**
 * src/store: persistence. This module is the Store interface the broker writes through, and
 * the records it stores (types only). The implementations are MemoryStore (memory.ts, this
 * process only) and LmdbStore (lmdb.ts, a data directory, with lmdb-file.ts, lmdb-keys.ts and
 * lmdb-values.ts); beside them the data directory's lock (lock.ts), its errors (errors.ts) and
 * `tinymqtt reset-data` (reset.ts).
 *
 * Must not import: src/scripting, src/web, src/listeners, src/bridge, src/cluster, src/testing;
 * of src/broker only its types-only modules (types.ts, subscription.ts), since the broker
 * imports this interface. The broker in turn imports nothing here but this module; the
 * embedder (src/index.ts) picks the implementation (.dependency-cruiser.cjs).
 */
import type { Subscription } from '../broker/subscription.ts'
import type { Message } from '../broker/types.ts'

/** An outgoing QoS 1/2 message of a persistent session: queued, or in flight once sent. */
export interface StoredMessage {
  /** Position in the session's outgoing order; unique per session. */
  seq: number
  qos: 1 | 2
  retain: boolean
  message: Message
  subscriptionIds?: number[] | undefined
  /**
   * The cluster's name of the message (SessionMessageLog.keyOf), so that after a restart the
   * session knows the cluster's copy of it as one it already holds.
   */
  clusterKey?: string | undefined
  /** Set once sent: its packet id, and where the QoS handshake stands. */
  messageId?: number | undefined
  state?: 'publish' | 'pubrel' | undefined
}

/** A persistent session without its messages. */
export interface SessionMeta {
  clientId: string
  /** Seconds the session outlives its connection (0xffffffff: never expires). */
  expiryInterval: number
  subscriptions: ({ filter: string } & Subscription)[]
  /** When its client went (ms since the epoch); absent while connected. Expiry counts from here. */
  disconnectedAt?: number | undefined
}

/** A persistent session as it is loaded: enough to resume it after a restart. */
export interface SessionRecord extends SessionMeta {
  /** Outgoing messages in seq order. */
  messages: StoredMessage[]
  /** Incoming QoS 2 packet ids received but not yet released. */
  incomingQos2: number[]
}

export interface StoredState {
  retained: Message[]
  sessions: SessionRecord[]
}

/**
 * Where state that must outlive the process goes. The broker keeps its working state in
 * memory (the retained tree, the sessions) and tells the store about every change; the
 * store hands it all back on the next start.
 *
 * Writes are fire-and-forget and applied in call order; `flush()` resolves once every write
 * made before it is durable. A store with `durable: true` gets each change as it happens,
 * and the broker holds PUBACK / PUBREC / SUBACK back until the writes before them are
 * flushed. A store with `durable: false` (in memory) is only sent whole sessions when their
 * client goes and at shutdown.
 */
export interface Store {
  readonly durable: boolean
  load(): Promise<StoredState>
  /** Stores a retained message; an empty payload deletes the topic's retained message. */
  putRetained(message: Message): void
  putSession(session: SessionMeta): void
  /** Deletes the session with its messages and incoming QoS 2 ids. */
  deleteSession(clientId: string): void
  /** Adds or replaces (same seq) an outgoing message. */
  putMessage(clientId: string, message: StoredMessage): void
  deleteMessage(clientId: string, seq: number): void
  putIncomingQos2(clientId: string, messageId: number): void
  deleteIncomingQos2(clientId: string, messageId: number): void
  flush(): Promise<void>
  /**
   * Optional, for health checks: commits a small write of its own and resolves once it is
   * durable; rejects when the store cannot commit. Without it, a health check relies on flush().
   */
  probe?(): Promise<void>
  close(): Promise<void>
  /** Every script's remembered state (its `persist` object as JSON), by script file name. */
  loadScriptStates(): Promise<Map<string, string>>
  /** Stores a script's remembered state; undefined deletes it. */
  putScriptState(name: string, json: string | undefined): void
}
