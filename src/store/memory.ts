import type { Message } from '../broker/types.ts'
import type { SessionRecord, Store, StoredState } from './store.ts'

/**
 * Keeps state in this process only. A broker closed and started again on the same
 * MemoryStore instance (an embedder restarting it) finds its retained messages and
 * persistent sessions again; nothing survives the process.
 */
export class MemoryStore implements Store {
  private readonly retained = new Map<string, Message>()
  private readonly sessions = new Map<string, SessionRecord>()

  async load(): Promise<StoredState> {
    return { retained: [...this.retained.values()], sessions: [...this.sessions.values()] }
  }

  putRetained(message: Message): void {
    if (message.payload.length === 0) this.retained.delete(message.topic)
    else this.retained.set(message.topic, message)
  }

  putSession(session: SessionRecord): void {
    this.sessions.set(session.clientId, session)
  }

  deleteSession(clientId: string): void {
    this.sessions.delete(clientId)
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}
}
