import type { Subscription } from '../broker/sessions.ts'
import type { Message } from '../broker/types.ts'

/** A persistent session as it is stored: enough to resume it after a restart. */
export interface SessionRecord {
  clientId: string
  /** Seconds the session outlives its connection (0xffffffff: never expires). */
  expiryInterval: number
  subscriptions: ({ filter: string } & Subscription)[]
  /** Outgoing QoS 1/2 messages sent and not yet acknowledged, in send order. */
  inflight: {
    messageId: number
    qos: 1 | 2
    retain: boolean
    state: 'publish' | 'pubrel'
    message: Message
    subscriptionIds?: number[] | undefined
  }[]
  /** Outgoing messages waiting behind the in-flight window, oldest first. */
  queued: { qos: 1 | 2; retain: boolean; message: Message; subscriptionIds?: number[] | undefined }[]
  /** Incoming QoS 2 packet ids received but not yet released. */
  incomingQos2: number[]
}

export interface StoredState {
  retained: Message[]
  sessions: SessionRecord[]
}

/**
 * Where state that must outlive the process goes. The broker keeps its working state in
 * memory (the retained tree, the sessions) and tells the store about changes; the store
 * hands it all back on the next start.
 *
 * Writes are fire-and-forget; `flush()` resolves once everything written before it is
 * durable, which is what a durable backend holds acknowledgements back on.
 */
export interface Store {
  load(): Promise<StoredState>
  /** Stores a retained message; an empty payload deletes the topic's retained message. */
  putRetained(message: Message): void
  /** Stores a persistent session as it is now (sent when its client goes and at shutdown). */
  putSession(session: SessionRecord): void
  deleteSession(clientId: string): void
  flush(): Promise<void>
  close(): Promise<void>
}
