import type { Message } from '../broker/types.ts'
import type { SessionMeta, SessionRecord, Store, StoredMessage, StoredState } from './store.ts'

interface SessionEntry {
  meta: SessionMeta
  messages: Map<number, StoredMessage>
  incomingQos2: Set<number>
}

/**
 * Keeps state in this process only. A broker closed and started again on the same
 * MemoryStore instance (an embedder restarting it) finds its retained messages and
 * persistent sessions again; nothing survives the process.
 */
export class MemoryStore implements Store {
  readonly durable = false
  private readonly retained = new Map<string, Message>()
  private readonly sessions = new Map<string, SessionEntry>()
  private readonly scriptStates = new Map<string, string>()

  async load(): Promise<StoredState> {
    const sessions: SessionRecord[] = [...this.sessions.values()].map((s) => ({
      ...s.meta,
      messages: [...s.messages.values()].sort((a, b) => a.seq - b.seq),
      incomingQos2: [...s.incomingQos2],
    }))
    return { retained: [...this.retained.values()], sessions }
  }

  putRetained(message: Message): void {
    if (message.payload.length === 0) this.retained.delete(message.topic)
    else this.retained.set(message.topic, message)
  }

  putSession(meta: SessionMeta): void {
    const entry = this.sessions.get(meta.clientId)
    if (entry) entry.meta = meta
    else this.sessions.set(meta.clientId, { meta, messages: new Map(), incomingQos2: new Set() })
  }

  deleteSession(clientId: string): void {
    this.sessions.delete(clientId)
  }

  putMessage(clientId: string, message: StoredMessage): void {
    this.sessions.get(clientId)?.messages.set(message.seq, message)
  }

  deleteMessage(clientId: string, seq: number): void {
    this.sessions.get(clientId)?.messages.delete(seq)
  }

  putIncomingQos2(clientId: string, messageId: number): void {
    this.sessions.get(clientId)?.incomingQos2.add(messageId)
  }

  deleteIncomingQos2(clientId: string, messageId: number): void {
    this.sessions.get(clientId)?.incomingQos2.delete(messageId)
  }

  async loadScriptStates(): Promise<Map<string, string>> {
    return new Map(this.scriptStates)
  }

  putScriptState(name: string, json: string | undefined): void {
    if (json === undefined) this.scriptStates.delete(name)
    else this.scriptStates.set(name, json)
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}
}
