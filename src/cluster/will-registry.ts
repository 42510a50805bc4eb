/**
 * The wills of the clients connected anywhere in the cluster in `<cluster>_wills`, one KV key
 * per client and node, `<node token>.<client key>` (the client key is the client-id lock's):
 * written when a client with a will connects, removed when its connection ends on its node
 * (which published or dropped the will itself). What is left of a node that died is what its
 * clients' wills were; dead-node-wills.ts publishes them, listing only that node's keys (a
 * listing of the whole bucket streams every key, about 11 s at a million). Every removal is a
 * compare-and-set on the entry's revision, so a late removal never deletes the entry of the
 * client's next connection, and of the nodes sweeping a dead node's wills exactly one wins each.
 */
import type { JetStreamManager } from '@nats-io/jetstream'
import type { KV } from '@nats-io/kv'
import type { ClaimedWill } from '../broker/types.ts'
import { clientKey } from './client-lock.ts'
import { deleteAt, entriesOfDeadNodes, type LiveRuns } from './kv-util.ts'
import { type ClusterNames, nodeToken } from './names.ts'
import type { NatsConnection } from './nats-connection.ts'
import { decodeProperties, encodeProperties } from './retained-properties.ts'

/** A will as stored, with the node whose client it is. */
export interface StoredWill {
  key: string
  /** The entry's KV revision (for the compare-and-set that takes it). */
  revision: number
  node: string
  /** The run of the node that wrote it (node-presence.ts), if it named one. */
  run: string | undefined
  clientId: string
  will: ClaimedWill
}

export class WillRegistry {
  /** This node's keys start with it. */
  private readonly prefix: string

  private constructor(
    private readonly conn: NatsConnection,
    private readonly kv: KV,
    private readonly jsm: JetStreamManager,
    private readonly bucket: string,
    private readonly nodeId: string,
    private readonly run: string | undefined,
  ) {
    this.prefix = `${nodeToken(nodeId)}.`
  }

  static async open(
    conn: NatsConnection,
    names: ClusterNames,
    node: { nodeId: string; run?: string | undefined },
    replicas?: number,
  ): Promise<WillRegistry> {
    const kv = await conn.kv(names.willsBucket, { history: 1, ...(replicas ? { replicas } : {}) })
    return new WillRegistry(conn, kv, await conn.jetstreamManager(), names.willsBucket, node.nodeId, node.run)
  }

  /** Stores the will of a client that connected here; resolves with the entry's revision. */
  put(clientId: string, will: ClaimedWill): Promise<number> {
    const props = will.properties && encodeProperties(will.properties)
    const value = JSON.stringify({
      node: this.nodeId,
      run: this.run,
      client: clientId,
      topic: will.topic,
      payload: will.payload.toString('base64'),
      qos: will.qos,
      retain: will.retain,
      delay: will.delaySeconds,
      ...(props ? { props } : {}),
    })
    return this.kv.put(this.prefix + clientKey(clientId), value)
  }

  /** Removes the entry if it is still the one at `revision`; true when this call removed it. */
  take(key: string, revision: number): Promise<boolean> {
    return deleteAt(this.kv, key, revision)
  }

  /** Removes this client's entry written at `revision` (its connection here ended). */
  remove(clientId: string, revision: number): Promise<boolean> {
    return this.take(this.prefix + clientKey(clientId), revision)
  }

  /**
   * Every will stored now by a run that is over (a node gone or restarted since; isLeftOver):
   * of `nodes` only, listing their keys alone, or of any node, listing the whole bucket.
   */
  async orphans(alive: LiveRuns, nodes?: Iterable<string>): Promise<StoredWill[]> {
    const out: StoredWill[] = []
    if (nodes === undefined) {
      await this.collect(out, entriesOfDeadNodes(this.conn, this.kv, alive))
      return out
    }
    for (const node of nodes) {
      const only = { key: `${nodeToken(node)}.>`, bucket: this.bucket, jsm: this.jsm }
      await this.collect(out, entriesOfDeadNodes(this.conn, this.kv, alive, only))
    }
    return out
  }

  private async collect(out: StoredWill[], entries: ReturnType<typeof entriesOfDeadNodes>): Promise<void> {
    for await (const { key, entry, value, node } of entries) {
      const will = parseWill(value)
      const run = typeof value.run === 'string' ? value.run : undefined
      if (will && typeof value.client === 'string')
        out.push({ key, revision: entry.revision, node, run, clientId: value.client, will })
    }
  }
}

function parseWill(v: Record<string, unknown>): ClaimedWill | undefined {
  const { topic, payload, qos, retain, delay, props } = v
  if (typeof topic !== 'string' || typeof payload !== 'string') return undefined
  if (qos !== 0 && qos !== 1 && qos !== 2) return undefined
  const will: ClaimedWill = {
    topic,
    payload: Buffer.from(payload, 'base64'),
    qos,
    retain: retain === true,
    delaySeconds: typeof delay === 'number' && delay > 0 ? delay : 0,
  }
  if (typeof props === 'string') will.properties = decodeProperties(props)
  return will
}
