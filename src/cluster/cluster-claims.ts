/**
 * The broker's ClientClaims on a cluster: a client id is claimed through the cluster-wide lock
 * (client-lock.ts) before CONNACK, so connecting on node B closes the client's connection on
 * node A (which publishes its will as on a local takeover), and the client's will is stored
 * in the will registry while it is connected, for when this node dies (dead-node-wills.ts).
 */
import type { Logger } from 'pino'
import type { ClaimedWill, ClientClaims } from '../broker/types.ts'
import type { ClientLock, TakeoverNotice } from './client-lock.ts'
import type { WillRegistry } from './will-registry.ts'

/** The session records a claim keeps current (session-fabric.ts). */
export interface SessionRecords {
  /** Reads `clientId`'s record from the cluster, past this node's watch. */
  refresh(clientId: string): Promise<void>
  /** Resolves once this node's last write of `clientId`'s record is stored. */
  written(clientId: string): Promise<void>
}

export class ClusterClaims implements ClientClaims {
  /** The client ids connected here, with the lock revision of their connection. */
  private readonly held = new Map<string, { revision: number; takenOver: () => void }>()
  private lock: ClientLock | undefined

  constructor(
    private readonly wills: WillRegistry,
    private readonly logger: Logger,
    private readonly sessions: SessionRecords,
  ) {}

  /** The lock is opened with onTakeover bound to this object, so it is set after construction. */
  useLock(lock: ClientLock): void {
    this.lock = lock
  }

  async claim(
    clientId: string,
    will: ClaimedWill | undefined,
    takenOver: () => void,
    resumes = false,
  ): Promise<() => void> {
    const lock = this.lock
    if (!lock) throw new Error('the cluster is not ready')
    const { revision } = await lock.acquire(clientId)
    this.held.set(clientId, { revision, takenOver })
    // Stored before CONNACK: a node that dies right after still has the will published.
    let willRevision: number | undefined
    try {
      if (will) willRevision = await this.wills.put(clientId, will)
    } catch (error) {
      this.forget(clientId, revision)
      await lock.release(clientId, revision).catch(() => undefined)
      throw error
    }
    // The node it left wrote the session's record as it went (before answering a takeover);
    // this node's watch may not have it yet.
    if (resumes)
      await this.sessions.refresh(clientId).catch((error: unknown) => {
        this.logger.warn(
          { err: error, clientId },
          "cluster: could not read a session's record; resuming from this node's copy",
        )
      })
    return () => {
      this.forget(clientId, revision)
      if (willRevision !== undefined)
        this.wills.remove(clientId, willRevision).catch((error: unknown) => {
          this.logger.warn({ err: error, clientId }, 'cluster: could not remove a will')
        })
      lock.release(clientId, revision).catch((error: unknown) => {
        this.logger.warn({ err: error, clientId }, 'cluster: could not release a client id')
      })
    }
  }

  /** Another node claimed a client id: the connection it names is closed here. */
  async onTakeover(notice: TakeoverNotice): Promise<void> {
    const entry = this.held.get(notice.clientId)
    if (!entry || entry.revision !== notice.revision) return
    this.held.delete(notice.clientId)
    this.logger.info(
      { clientId: notice.clientId, by: notice.by },
      'cluster: client taken over by another node',
    )
    entry.takenOver()
    // The taking node reads the session's record once this answer comes: it must be stored.
    await this.sessions.written(notice.clientId)
  }

  private forget(clientId: string, revision: number): void {
    if (this.held.get(clientId)?.revision === revision) this.held.delete(clientId)
  }
}
