/**
 * The broker's SessionFabric on the session directory: a persistent session's record is
 * written when it opens here, when its subscriptions change and when its client goes, and
 * deleted when it ends; a CONNECT asks the directory whether another node holds the session.
 * Writes go out in the background, in call order (one NATS connection); a failed write is
 * logged, never thrown into the broker. The session's QoS 1/2 messages are kept apart, in
 * JetStream (session-messages.ts), and deleted with it.
 */
import type { Logger } from 'pino'
import type { SessionFabric, SessionFabricInlet, SessionMessageLog, SharedSession } from '../broker/types.ts'
import type { ClusterSessionRecord, SessionDirectory } from './session-directory.ts'
import type { SessionMessages } from './session-messages.ts'

export class ClusterSessionFabric implements SessionFabric {
  constructor(
    private readonly directory: SessionDirectory,
    private readonly nodeId: string,
    /** This start of the node, written with each record (dead-node-sessions.ts). */
    private readonly run: string,
    private readonly messages: SessionMessages,
    private readonly logger: Logger,
  ) {}

  /**
   * Records this node deleted whose delete has not come back through the watch yet: that
   * echo is not news from elsewhere (the session may have been opened here again meanwhile).
   */
  private readonly ownDeletes = new Set<string>()

  /** From now on the broker hears of sessions taken over or ended on other nodes. */
  follow(inlet: SessionFabricInlet): void {
    this.inlet = inlet
    this.directory.onChange = (clientId, record) => {
      if (record === undefined && this.ownDeletes.delete(clientId)) return
      if (record?.node !== this.nodeId) inlet.changedElsewhere(clientId)
    }
  }

  private inlet: SessionFabricInlet | undefined
  /** The session being taken in (takeIn): its record names this node already. */
  private takingIn: string | undefined

  /**
   * Hands the broker a dead node's session whose record this node has just rewritten to name
   * itself (dead-node-sessions.ts). The broker's writes while it sets the session up (one per
   * subscription, then the session) are not sent: they would say again what the record says,
   * and one landing after a client resumed the session elsewhere would take it back.
   */
  takeIn(record: ClusterSessionRecord): void {
    this.takingIn = record.clientId
    try {
      this.inlet?.adopt(record)
    } finally {
      this.takingIn = undefined
    }
  }

  record(clientId: string): SharedSession | undefined {
    return this.directory.get(clientId)
  }

  messageLog(clientId: string): SessionMessageLog {
    return this.messages.logFor(clientId)
  }

  heldElsewhere(clientId: string): SharedSession | undefined {
    const record = this.directory.get(clientId)
    if (!record || record.node === this.nodeId) return undefined
    return record
  }

  heldHere(clientId: string): boolean {
    return this.directory.get(clientId)?.node === this.nodeId
  }

  changed(session: SharedSession): void {
    if (session.clientId === this.takingIn) return
    const record: ClusterSessionRecord = {
      clientId: session.clientId,
      expiryInterval: session.expiryInterval,
      subscriptions: session.subscriptions.map((s) => withoutUndefined(s)),
      node: this.nodeId,
      run: this.run,
    }
    if (session.disconnectedAt !== undefined) {
      record.disconnectedAt = session.disconnectedAt
      const inflight = this.messages.takeInflight(session.clientId)
      if (inflight) record.inflight = inflight
    }
    const write = this.directory.put(record).catch((error: unknown) => {
      this.logger.warn(
        { err: error, clientId: session.clientId },
        'cluster: could not write a session record',
      )
    })
    this.writing.set(session.clientId, write)
    void write.then(() => {
      if (this.writing.get(session.clientId) === write) this.writing.delete(session.clientId)
    })
  }

  /** Each session's last record write still out (one NATS connection: earlier ones are done before it). */
  private readonly writing = new Map<string, Promise<void>>()

  /** Resolves once the last record written for `clientId` is stored (or failed). */
  written(clientId: string): Promise<void> {
    return this.writing.get(clientId) ?? Promise.resolve()
  }

  /** See SessionDirectory.refresh. */
  refresh(clientId: string): Promise<void> {
    return this.directory.refresh(clientId)
  }

  ended(clientId: string): void {
    // Called for every clean connection: only a record this node knows of costs a write.
    if (!this.directory.has(clientId)) return
    this.messages.purge(clientId)
    this.ownDeletes.add(clientId)
    this.directory.delete(clientId).catch((error: unknown) => {
      this.ownDeletes.delete(clientId)
      this.logger.warn({ err: error, clientId }, 'cluster: could not delete a session record')
    })
  }
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T
}
