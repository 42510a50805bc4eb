/**
 * The cluster-wide client-id lock: at most one node serves a client id. A KV bucket holds one
 * key per client id whose value names the node; every change is a compare-and-set on the key's
 * revision (create when absent or deleted, update from the revision read), so two nodes racing
 * for one client id cannot both win.
 *
 * Takeover: a node that acquires a client id another node holds sends that node a request on
 * the node's takeover subject (`<cluster>.ctl.takeover.<node>`) carrying the client id and the
 * lock revision the old holder had. The old holder closes its connection for that client (and
 * publishes its will) in `onTakeover`, then answers; `acquire` resolves after the answer, after
 * "no responders" (the node is gone), or after `notifyTimeoutMs`. The revision lets the old
 * holder ignore a notice about a connection it already replaced, and `release` only deletes
 * the key while it still holds the revision it acquired, so a late disconnect on the old node
 * never frees the new holder's lock.
 */
import { createHash } from 'node:crypto'
import type { KV } from '@nats-io/kv'
import { errors, type Msg, type Subscription } from '@nats-io/transport-node'
import {
  deleteAt,
  entriesOfDeadNodes,
  isRevisionConflict,
  jsonObject,
  type LiveRuns,
  liveEntry,
} from './kv-util.ts'
import type { ClusterNames } from './names.ts'
import type { NatsConnection } from './nats-connection.ts'
import type { NodePresence } from './node-presence.ts'
import { levelToToken } from './subjects.ts'

/** What the previous holder hears. */
export interface TakeoverNotice {
  clientId: string
  /** The lock revision the previous holder had; a connection with another revision is not meant. */
  revision: number
  /** The node that took over. */
  by: string
}

export interface PreviousHolder {
  nodeId: string
  revision: number
  /** False when presence said the node was gone, so no notice was sent. */
  alive: boolean
  /** True when the previous holder answered the notice (its connection is closed). */
  acknowledged: boolean
}

export interface AcquireResult {
  /** This node's lock revision: keep it with the connection for `release` and takeover notices. */
  revision: number
  previous: PreviousHolder | undefined
}

export interface ClientLockOptions {
  nodeId: string
  /** This start of the node (node-presence.ts), written with each lock it takes. */
  run?: string | undefined
  /** Closes the local connection for the client (and publishes its will). Errors are answered, not thrown. */
  onTakeover: (notice: TakeoverNotice) => Promise<void> | void
  /** When given, a holder that presence says is gone gets no notice (and no wait). */
  presence?: NodePresence
  /** How long `acquire` waits for the previous holder's answer (default 5 s). */
  notifyTimeoutMs?: number
}

/** Encoded ids longer than this are hashed, to keep keys under the server's control line limit. */
const MAX_KEY = 512
/** CAS retries in one `acquire` before giving up (each loss means another node moved first). */
const MAX_ATTEMPTS = 16

/** The KV key for a client id. `==` never occurs in an escaped token, so hashed keys cannot collide with one. */
export function clientKey(clientId: string): string {
  const token = levelToToken(clientId)
  if (token.length <= MAX_KEY) return token
  return `==${createHash('sha256').update(clientId).digest('hex')}`
}

export class ClientLock {
  private constructor(
    private readonly conn: NatsConnection,
    private readonly names: ClusterNames,
    private readonly kv: KV,
    private readonly opts: ClientLockOptions,
    private readonly sub: Subscription,
  ) {}

  /** Opens (or creates) the lock bucket and starts listening for takeovers of this node's clients. */
  static async open(conn: NatsConnection, names: ClusterNames, opts: ClientLockOptions): Promise<ClientLock> {
    const kv = await conn.kv(names.clientsBucket, { history: 1 })
    const nc = conn.connection
    const sub = nc.subscribe(names.takeoverSubject(opts.nodeId), {
      callback: (_err, msg) => void answerTakeover(msg, opts.onTakeover),
    })
    // The subscription is in place on the server before anyone can be told to use it.
    await nc.flush()
    return new ClientLock(conn, names, kv, opts, sub)
  }

  get nodeId(): string {
    return this.opts.nodeId
  }

  /** The node (and its run, if named) holding `clientId` and its revision, or undefined when nobody does. */
  async holder(
    clientId: string,
  ): Promise<{ nodeId: string; run: string | undefined; revision: number } | undefined> {
    const entry = liveEntry(await this.kv.get(clientKey(clientId)))
    const value = entry && jsonObject(entry)
    const node = value?.node
    if (!entry || typeof node !== 'string') return undefined
    return {
      nodeId: node,
      run: typeof value?.run === 'string' ? value.run : undefined,
      revision: entry.revision,
    }
  }

  /**
   * Takes the lock for `clientId` for this node, from whoever holds it, and tells the previous
   * holder (see the module comment). Rejects when the server cannot be reached, or when other
   * nodes keep winning the race MAX_ATTEMPTS times in a row.
   */
  async acquire(clientId: string): Promise<AcquireResult> {
    const key = clientKey(clientId)
    const value = JSON.stringify({
      node: this.opts.nodeId,
      run: this.opts.run,
      client: clientId,
      at: Date.now(),
    })
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const read = await this.kv.get(key)
      const entry = liveEntry(read)
      try {
        if (!entry) {
          // Freed before (a delete marker): taken from the marker's revision in one write.
          // kv.create would try revision 0 first and then read the key again itself.
          const revision = read
            ? await this.kv.update(key, value, read.revision)
            : await this.kv.create(key, value)
          return { revision, previous: undefined }
        }
        const revision = await this.kv.update(key, value, entry.revision)
        const node = jsonObject(entry)?.node
        if (typeof node !== 'string') return { revision, previous: undefined }
        return { revision, previous: await this.notify(node, clientId, entry.revision) }
      } catch (error) {
        if (!isRevisionConflict(error)) throw error
      }
    }
    throw new Error(`client id lock for '${clientId}' still contended after ${MAX_ATTEMPTS} attempts`)
  }

  private async notify(nodeId: string, clientId: string, revision: number): Promise<PreviousHolder> {
    const alive = this.opts.presence ? await this.opts.presence.isAlive(nodeId) : true
    if (!alive) return { nodeId, revision, alive, acknowledged: false }
    const notice: TakeoverNotice = { clientId, revision, by: this.opts.nodeId }
    try {
      await this.conn.connection.request(this.names.takeoverSubject(nodeId), JSON.stringify(notice), {
        timeout: this.opts.notifyTimeoutMs ?? 5_000,
      })
      return { nodeId, revision, alive, acknowledged: true }
    } catch (error) {
      // No responders: the node is gone without presence having noticed yet. Timeout: it is
      // stuck; the lock is ours either way, and it learns so when it next touches the key.
      const noResponders =
        error instanceof errors.NoRespondersError ||
        (error instanceof errors.RequestError && error.isNoResponders())
      if (noResponders) return { nodeId, revision, alive: false, acknowledged: false }
      if (error instanceof errors.TimeoutError) return { nodeId, revision, alive, acknowledged: false }
      throw error
    }
  }

  /**
   * Frees the lock if this node still holds it at `revision` (from `acquire`). False when
   * another node took it over meanwhile: its lock stays.
   */
  release(clientId: string, revision: number): Promise<boolean> {
    return deleteAt(this.kv, clientKey(clientId), revision)
  }

  /**
   * Deletes every lock taken by a run that is over (a node gone or restarted since; isLeftOver)
   * with a compare-and-set on its revision, so a lock taken over meanwhile stays. Resolves with
   * how many it deleted.
   */
  async freeOrphans(alive: LiveRuns): Promise<number> {
    let freed = 0
    for await (const { key, entry } of entriesOfDeadNodes(this.conn, this.kv, alive)) {
      if (await deleteAt(this.kv, key, entry.revision)) freed++
    }
    return freed
  }

  /** Stops listening for takeovers (the locks this node holds stay). */
  async close(): Promise<void> {
    this.sub.unsubscribe()
  }
}

async function answerTakeover(msg: Msg, onTakeover: ClientLockOptions['onTakeover']): Promise<void> {
  let notice: TakeoverNotice
  try {
    const v: unknown = msg.json()
    const o = v as Partial<TakeoverNotice> | null
    if (!o || typeof o.clientId !== 'string' || typeof o.revision !== 'number' || typeof o.by !== 'string')
      throw new Error('malformed takeover notice')
    notice = { clientId: o.clientId, revision: o.revision, by: o.by }
  } catch (error) {
    msg.respond(JSON.stringify({ ok: false, error: String(error) }))
    return
  }
  try {
    await onTakeover(notice)
    msg.respond(JSON.stringify({ ok: true }))
  } catch (error) {
    msg.respond(JSON.stringify({ ok: false, error: String(error) }))
  }
}
