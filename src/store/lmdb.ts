import { mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { open, type RootDatabase } from 'lmdb'
import type { Message } from '../broker/types.ts'
import { DataDirError, describe, resetAdvice } from './errors.ts'
import { checkDataFile } from './lmdb-file.ts'
import {
  clientPart,
  formatKey,
  Kind,
  messageKey,
  qos2Key,
  retainedKey,
  scriptStateKey,
  scriptStateRanges,
  sessionKey,
  splitClientKey,
} from './lmdb-keys.ts'
import {
  BadValue,
  messageValue,
  readMessage,
  readScriptState,
  readSession,
  readStoredMessage,
  scriptStateValue,
  sessionValue,
  storedMessageValue,
} from './lmdb-values.ts'
import { lockDataDir } from './lock.ts'
import type { SessionMeta, SessionRecord, Store, StoredMessage, StoredState } from './store.ts'

/** Bumped when the layout changes in a way an older tinymqtt could not read. */
export const formatVersion = 1
export const dbFileName = 'tinymqtt.mdb'

/** A stored client's key prefix and the keys it has, so deleteSession needs no scan. */
interface ClientKeys {
  part: Buffer
  seqs: Set<number>
  qos2: Set<number>
}

type Db = RootDatabase<unknown, Buffer>

/**
 * The durable store: one LMDB file under the data directory. Writes are queued by lmdb-js
 * and committed on its writer thread, all the writes of one event-loop turn in one
 * transaction, so the event loop never waits for the disk; `flush()` resolves once the OS
 * reports the last commit synced.
 */
export class LmdbStore implements Store {
  readonly durable = true
  /** The state read at open, handed to the first load() so start-up reads the file once. */
  private opened: StoredState | undefined
  private readonly clients = new Map<string, ClientKeys>()
  /** Settles when the latest queued write has committed; never rejects (see writeError). */
  private lastWrite: Promise<void> | undefined
  private lastRaw: Promise<unknown> | undefined
  private writeError: unknown
  private closed: Promise<void> | undefined

  private constructor(
    readonly dir: string,
    private readonly db: Db,
    private readonly unlock: () => void,
  ) {}

  /**
   * Opens (creating if needed) the store under `dir`. Throws a DataDirError naming the
   * directory when it is locked by another broker, unreadable, damaged or of a newer format;
   * it never starts empty over a store it could not read.
   */
  static async open(dir: string): Promise<LmdbStore> {
    const path = resolve(dir)
    try {
      mkdirSync(path, { recursive: true })
    } catch (error) {
      throw new DataDirError(
        path,
        `cannot create it (${describe(error)})`,
        'Start with --data pointing at another directory',
        {
          cause: error,
        },
      )
    }
    const unlock = await lockDataDir(path)
    try {
      const file = join(path, dbFileName)
      try {
        checkDataFile(file)
      } catch (error) {
        throw new DataDirError(path, describe(error), resetAdvice(path), { cause: error })
      }
      let db: Db
      try {
        // Plain msgpack (no msgpackr records): every value decodes on its own.
        const options = {
          path: file,
          encoding: 'msgpack' as const,
          keyEncoding: 'binary' as const,
          useRecords: false,
        }
        db = open<unknown, Buffer>(options)
      } catch (error) {
        throw new DataDirError(path, `cannot open ${file} (${describe(error)})`, resetAdvice(path), {
          cause: error,
        })
      }
      const store = new LmdbStore(path, db, unlock)
      try {
        store.checkFormat()
        store.opened = store.read()
      } catch (error) {
        await db.close().catch(() => undefined)
        throw error
      }
      return store
    } catch (error) {
      unlock()
      throw error
    }
  }

  async load(): Promise<StoredState> {
    const opened = this.opened
    this.opened = undefined
    if (opened) return opened
    await this.flush()
    this.db.resetReadTxn()
    return this.read()
  }

  putRetained(message: Message): void {
    const key = retainedKey(message.topic)
    this.track(message.payload.length === 0 ? this.db.remove(key) : this.db.put(key, messageValue(message)))
  }

  putSession(meta: SessionMeta): void {
    let client = this.clients.get(meta.clientId)
    if (!client) {
      client = { part: clientPart(meta.clientId), seqs: new Set(), qos2: new Set() }
      this.clients.set(meta.clientId, client)
    }
    this.track(this.db.put(sessionKey(client.part), sessionValue(meta)))
  }

  deleteSession(clientId: string): void {
    const client = this.clients.get(clientId)
    if (!client) return
    this.clients.delete(clientId)
    const { part } = client
    for (const seq of client.seqs) this.db.remove(messageKey(part, seq))
    for (const id of client.qos2) this.db.remove(qos2Key(part, id))
    this.track(this.db.remove(sessionKey(part)))
  }

  putMessage(clientId: string, message: StoredMessage): void {
    const client = this.clients.get(clientId)
    if (!client) return
    client.seqs.add(message.seq)
    this.track(this.db.put(messageKey(client.part, message.seq), storedMessageValue(message)))
  }

  deleteMessage(clientId: string, seq: number): void {
    const client = this.clients.get(clientId)
    if (!client?.seqs.delete(seq)) return
    this.track(this.db.remove(messageKey(client.part, seq)))
  }

  putIncomingQos2(clientId: string, messageId: number): void {
    const client = this.clients.get(clientId)
    if (!client || client.qos2.has(messageId)) return
    client.qos2.add(messageId)
    this.track(this.db.put(qos2Key(client.part, messageId), 1))
  }

  deleteIncomingQos2(clientId: string, messageId: number): void {
    const client = this.clients.get(clientId)
    if (!client?.qos2.delete(messageId)) return
    this.track(this.db.remove(qos2Key(client.part, messageId)))
  }

  /** A range read of the script keys: once, when the scripting host starts. */
  async loadScriptStates(): Promise<Map<string, string>> {
    if (this.lastWrite) {
      await this.flush()
      this.db.resetReadTxn()
    }
    const states = new Map<string, string>()
    for (const range of scriptStateRanges) {
      for (const { key, value } of this.db.getRange(range)) {
        try {
          const { name, json } = readScriptState(value)
          states.set(name, json)
        } catch (error) {
          throw this.corrupt(
            `it cannot be read at key ${JSON.stringify(key.toString('latin1'))} (${describe(error)})`,
            error,
          )
        }
      }
    }
    return states
  }

  putScriptState(name: string, json: string | undefined): void {
    const key = scriptStateKey(name)
    this.track(json === undefined ? this.db.remove(key) : this.db.put(key, scriptStateValue(name, json)))
  }

  async flush(): Promise<void> {
    const last = this.lastWrite
    if (!last) return
    await last
    if (this.writeError !== undefined) {
      throw new Error(`store ${this.dir}: a write failed: ${describe(this.writeError)}`, {
        cause: this.writeError,
      })
    }
    // The commit is visible; wait until the OS reports it on disk (lmdb's overlapping sync).
    await this.db.flushed
  }

  /**
   * Rewrites the format marker (the same value, so nothing a reader sees changes) and waits for
   * it to reach the disk: a real commit, which fails when the file can no longer be written.
   * Kept out of `lastWrite`, so a failed probe does not hold the broker's acknowledgements.
   */
  async probe(): Promise<void> {
    await this.flush()
    await this.db.put(formatKey, { version: formatVersion })
    await this.db.flushed
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown()
    return this.closed
  }

  private async shutdown(): Promise<void> {
    try {
      await this.flush()
      await this.db.close()
    } finally {
      this.unlock()
    }
  }

  /** Remembers the latest write's commit promise (writes of one turn share one). */
  private track(raw: Promise<unknown>): void {
    // What open() read is out of date now; a later load() reads the file again.
    this.opened = undefined
    if (raw === this.lastRaw) return
    this.lastRaw = raw
    this.lastWrite = raw.then(
      () => undefined,
      (error: unknown) => {
        this.writeError ??= error
      },
    )
  }

  private checkFormat(): void {
    let stored: unknown
    try {
      stored = this.db.get(formatKey)
    } catch (error) {
      throw this.corrupt(`its format marker cannot be read (${describe(error)})`, error)
    }
    if (stored === undefined) {
      // Keys without the marker: not ours, or damaged. No keys at all: a new store (or one
      // whose creation a crash interrupted), with nothing in it to lose.
      if (this.db.getKeysCount({ limit: 1 }) > 0) {
        throw this.corrupt('it has no format marker: not a tinymqtt store, or damaged')
      }
      // The marker goes in synchronously, once, before anything else.
      this.db.putSync(formatKey, { version: formatVersion })
      return
    }
    const version = (stored as { version?: unknown }).version
    if (typeof version !== 'number' || !Number.isInteger(version))
      throw this.corrupt('its format marker is damaged')
    if (version > formatVersion) {
      throw new DataDirError(
        this.dir,
        `it was written by a newer tinymqtt (store format ${version}; this version reads format ${formatVersion})`,
        `Run the newer tinymqtt, or start with --data pointing at another directory, or discard the stored state with: tinymqtt reset-data ${JSON.stringify(this.dir)}`,
      )
    }
  }

  /**
   * Reads the whole store and rebuilds the key index: one pass over the file, and when that
   * fails, a second pass key by key that finds the key of the value that cannot be decoded.
   */
  private read(): StoredState {
    try {
      return this.readEntries(this.db.getRange())
    } catch {
      return this.readEntries(this.entriesOneByOne())
    }
  }

  private *entriesOneByOne(): Generator<{ key: Buffer; value: () => unknown }> {
    for (const key of this.db.getKeys()) yield { key, value: () => this.db.get(key) }
  }

  /** `value` is the decoded value, or (key by key) a function that reads and decodes it. */
  private readEntries(entries: Iterable<{ key: Buffer; value: unknown }>): StoredState {
    this.clients.clear()
    const retained: Message[] = []
    const sessions = new Map<string, SessionRecord>()
    const messages = new Map<string, StoredMessage[]>()
    const qos2 = new Map<string, number[]>()
    let key: Buffer | undefined
    try {
      for (const entry of entries) {
        key = entry.key
        const value = typeof entry.value === 'function' ? entry.value() : entry.value
        if (key.equals(formatKey)) continue
        switch (key[0]) {
          case Kind.retained:
          case Kind.retainedHashed:
            retained.push(readMessage(value))
            break
          case Kind.session: {
            const { client } = splitClientKey(key)
            sessions.set(client, { ...readSession(value), messages: [], incomingQos2: [] })
            break
          }
          case Kind.message: {
            const { client } = splitClientKey(key)
            const message = readStoredMessage(value)
            append(messages, client, message)
            break
          }
          case Kind.qos2: {
            const { client, rest } = splitClientKey(key)
            if (rest.length !== 2) throw new BadValue('bad QoS 2 id key')
            append(qos2, client, rest.readUInt16BE(0))
            break
          }
          case Kind.scriptState:
          case Kind.scriptStateHashed:
            // Read by loadScriptStates when the scripting host starts.
            readScriptState(value)
            break
          default:
            throw new BadValue('unknown kind of key')
        }
      }
    } catch (error) {
      const where = key ? ` at key ${JSON.stringify(key.toString('latin1'))}` : ''
      throw this.corrupt(`it cannot be read${where} (${describe(error)})`, error)
    }
    for (const [client, record] of sessions) {
      // Keys are in byte order, which is seq order within a client.
      record.messages = messages.get(client) ?? []
      record.incomingQos2 = qos2.get(client) ?? []
      const part = clientPart(record.clientId)
      if (part.toString('hex') !== client)
        throw this.corrupt(`session ${JSON.stringify(record.clientId)} is stored under another client's key`)
      this.clients.set(record.clientId, {
        part,
        seqs: new Set(record.messages.map((m) => m.seq)),
        qos2: new Set(record.incomingQos2),
      })
    }
    return { retained, sessions: [...sessions.values()] }
  }

  private corrupt(problem: string, cause?: unknown): DataDirError {
    return new DataDirError(this.dir, problem, resetAdvice(this.dir), { cause })
  }
}

function append<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key)
  if (list) list.push(value)
  else map.set(key, [value])
}
