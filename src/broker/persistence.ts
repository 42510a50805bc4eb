import type { Logger } from 'pino'
import type { Store } from '../store/store.ts'
import type { Connection } from './connection.ts'
import { type Session, type SessionJournal, sessionMeta } from './sessions.ts'
import type { Message } from './types.ts'

/** How long to wait before retrying a failed flush; acknowledgements stay held meanwhile. */
const retryMs = 1000
/** How long a session noted as its client connects or goes waits to be written (noteSession). */
const NOTE_DELAY_MS = 100

/**
 * The broker's side of the store: every change goes through here, and so do the
 * acknowledgements that promise durability (PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK).
 *
 * With a durable store, writes made during one event-loop turn are flushed together (group
 * commit) and an acknowledgement is released only once every write made before it is on
 * disk; a connection's acknowledgements keep their order. With an in-memory store nothing
 * is held back. In a cluster the same holds for the cluster's flush: an acknowledgement after
 * a forwarded QoS 1/2 message waits until the NATS server has it (see RemoteFabric.flush).
 */
export class Persistence {
  private writes = 0
  private durableWrites = 0
  private flushing = false
  private readonly waiting = new Set<Connection>()
  /** The cluster's flush, while one is attached. */
  private remoteFlush: (() => Promise<void>) | undefined
  /** Whether acknowledgements wait: for a durable store, or for a cluster. */
  private holding: boolean

  constructor(
    readonly store: Store,
    private readonly logger: Logger,
    /** Told how long each commit of a durable store took (for metrics). */
    private readonly committed: (seconds: number) => void = () => {},
  ) {
    this.holding = store.durable
  }

  /** Acknowledgements also wait for `flush` (a cluster's); undefined stops that. */
  setRemoteFlush(flush: (() => Promise<void>) | undefined): void {
    this.remoteFlush = flush
    this.holding = this.store.durable || flush !== undefined
  }

  /**
   * Something went to the cluster (a QoS 1/2 message, a new subscription): acknowledgements
   * sent after this wait for the cluster's flush.
   */
  sentToCluster(): void {
    this.touch()
  }

  get durable(): boolean {
    return this.store.durable
  }

  putRetained(message: Message): void {
    this.store.putRetained(message)
    this.touch()
  }

  /** Stores the session's subscriptions and expiry (messages go through its journal). */
  putSession(session: Session): void {
    this.notes.delete(session.clientId)
    this.store.putSession(sessionMeta(session))
    this.touch()
  }

  /**
   * Stores a session as its client connects or goes (its expiry, when it went) without
   * holding acknowledgements: none of them promises this state. Later writes commit after it
   * (lmdb-js commits in call order), so an acknowledgement that waits for one of those waits
   * for this too. Holding every SUBACK of a reconnect storm behind these writes bounded the
   * rate at which restored sessions came back by the commit latency (see README, Performance).
   */
  noteSession(session: Session, fresh = false): void {
    if (fresh) {
      // The store learns of a client from its session's record: its messages and QoS 2 ids
      // written after this need the record there first.
      this.notes.delete(session.clientId)
      this.store.putSession(sessionMeta(session))
      return
    }
    this.notes.set(session.clientId, session)
    // One store transaction for the notes of NOTE_DELAY_MS rather than one per event-loop turn:
    // in a reconnect storm of restored sessions each turn takes a few clients, and LMDB's
    // commit of each turn was the largest cost (see README, Performance).
    this.notesTimer ??= setTimeout(() => this.writeNotes(), NOTE_DELAY_MS)
  }

  /** Sessions noted since the last writeNotes, by client id. */
  private readonly notes = new Map<string, Session>()
  private notesTimer: NodeJS.Timeout | undefined

  /** Writes the noted sessions as they are now. */
  private writeNotes(): void {
    clearTimeout(this.notesTimer)
    this.notesTimer = undefined
    try {
      for (const session of this.notes.values()) this.store.putSession(sessionMeta(session))
    } catch (error) {
      // From a timer: a store closed meanwhile (a note taken after the shutdown's flush) must
      // not throw out of the event loop.
      this.logger.error({ err: error }, 'could not store the state of sessions whose clients came or went')
    } finally {
      this.notes.clear()
    }
  }

  deleteSession(clientId: string): void {
    // A note written after the delete would bring the session back.
    this.notes.delete(clientId)
    this.store.deleteSession(clientId)
    this.touch()
  }

  /** A persistent session's change log, when the store is durable. */
  journalFor(session: Session): SessionJournal | undefined {
    if (!this.durable) return undefined
    const { clientId } = session
    return {
      putMessage: (entry) => {
        this.store.putMessage(clientId, entry)
        this.touch()
      },
      deleteMessage: (seq) => {
        this.store.deleteMessage(clientId, seq)
        this.touch()
      },
      putIncomingQos2: (id) => {
        this.store.putIncomingQos2(clientId, id)
        this.touch()
      },
      deleteIncomingQos2: (id) => {
        this.store.deleteIncomingQos2(clientId, id)
        this.touch()
      },
    }
  }

  /** Writes a whole session; how an in-memory store learns of a session its client left. */
  snapshot(session: Session): void {
    const { clientId } = session
    this.store.deleteSession(clientId)
    this.store.putSession(sessionMeta(session))
    for (const entry of session.outgoing()) this.store.putMessage(clientId, { ...entry })
    for (const id of session.incomingQos2) this.store.putIncomingQos2(clientId, id)
    this.touch()
  }

  /** Sends an acknowledgement once everything written so far is durable, in the connection's order. */
  acknowledge(connection: Connection, packet: Buffer): void {
    if (!this.holding || (this.writes === this.durableWrites && !connection.heldAcks)) {
      connection.write(packet)
      return
    }
    if (connection.heldAcks) connection.heldAcks.push({ packet, after: this.writes })
    else connection.heldAcks = [{ packet, after: this.writes }]
    this.waiting.add(connection)
    this.schedule()
  }

  /** Resolves once everything written so far is durable, the sessions noted included. */
  async flush(): Promise<void> {
    if (this.notes.size > 0) this.writeNotes()
    const target = this.writes
    await this.commit()
    if (target > this.durableWrites) this.durableWrites = target
  }

  /** One store flush, timed; per group commit, not per message. */
  private async commit(): Promise<void> {
    if (!this.durable) return this.store.flush()
    const started = performance.now()
    await this.store.flush()
    this.committed((performance.now() - started) / 1000)
  }

  private touch(): void {
    this.writes++
    if (this.holding) this.schedule()
  }

  private schedule(): void {
    if (this.flushing) return
    this.flushing = true
    // One flush for everything written in this turn of the event loop: group commit.
    setImmediate(() => void this.flushNow())
  }

  private async flushNow(): Promise<void> {
    const target = this.writes
    const remote = this.remoteFlush
    try {
      await (remote ? Promise.all([this.commit(), remote()]) : this.commit())
    } catch (error) {
      this.logger.error({ err: error }, 'store or cluster flush failed; acknowledgements held, retrying')
      setTimeout(() => {
        this.flushing = false
        this.schedule()
      }, retryMs).unref()
      return
    }
    if (target > this.durableWrites) this.durableWrites = target
    this.flushing = false
    this.release()
    if (this.writes !== this.durableWrites) this.schedule()
  }

  private release(): void {
    for (const connection of this.waiting) {
      const held = connection.heldAcks ?? []
      let i = 0
      for (let ack = held[i]; ack !== undefined && ack.after <= this.durableWrites; ack = held[++i]) {
        connection.write(ack.packet)
      }
      if (i === held.length || connection.state === 'closed') {
        connection.heldAcks = undefined
        this.waiting.delete(connection)
      } else {
        held.splice(0, i)
      }
    }
  }
}
