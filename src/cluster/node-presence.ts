/**
 * Which nodes are alive: each node writes a heartbeat key into a KV bucket whose entries the
 * server drops after the bucket's TTL (stream max_age). nats-server 2.9 has no per-key TTL
 * (that came in 2.11), so the TTL is the bucket's, set by whichever node creates the bucket
 * first; every node reads it back and heartbeats at a third of it. A node that stops is seen
 * as gone one TTL after its last heartbeat (a little later if the server's expiry sweep lags),
 * or at once when it stops cleanly and deletes its key.
 *
 * Besides the readings on demand (`alive`, `aliveRuns`: a listing of the bucket), every node
 * follows the bucket with a watch, so `heardFrom` answers at once, without NATS, which nodes
 * heartbeated within the TTL: what a node needs at the moment its NATS connection is lost.
 */
import type { KV, KvWatchEntry } from '@nats-io/kv'
import { settleWithin } from '../util/settle-within.ts'
import { jsonObject, liveEntry } from './kv-util.ts'
import { type ClusterNames, nodeToken } from './names.ts'
import type { NatsConnection } from './nats-connection.ts'

/** How long leaving waits for the heartbeat key's delete before letting the TTL remove it. */
const STOP_GUARD_MS = 5_000

export interface NodePresenceOptions {
  nodeId: string
  /** This start of the node (cluster-router.ts's origin suffix), written in each heartbeat. */
  run?: string
  /** How long a node counts as alive after its last heartbeat (default 15 s; for a new bucket). */
  ttlMs?: number
}

export class NodePresence {
  private timer: NodeJS.Timeout | undefined
  private beating = false
  /** When this node joined, written in each heartbeat so others can show how long it has run. */
  private readonly since = Date.now()
  /** The last heartbeat heard from each node (ms since the epoch), from the watch. */
  private readonly heard = new Map<string, number>()
  private stopWatch: (() => void) | undefined

  private constructor(
    private readonly kv: KV,
    readonly nodeId: string,
    /** The bucket's TTL as the server has it (it may differ from the option). */
    readonly ttlMs: number,
    readonly run: string | undefined,
  ) {}

  /** Opens (or creates) the presence bucket and writes the first heartbeat. */
  static async start(
    conn: NatsConnection,
    names: ClusterNames,
    opts: NodePresenceOptions,
  ): Promise<NodePresence> {
    nodeToken(opts.nodeId)
    const kv = await conn.kv(names.nodesBucket, { history: 1, ttl: opts.ttlMs ?? 15_000 })
    const ttlMs = (await kv.status()).ttl
    if (!(ttlMs > 0))
      throw new Error(`KV bucket ${names.nodesBucket} has no TTL; delete it so it can be recreated`)
    const presence = new NodePresence(kv, opts.nodeId, ttlMs, opts.run)
    const watch = await conn.watch(kv)
    presence.stopWatch = () => watch.stop()
    void (async () => {
      for await (const entry of watch) presence.hear(entry)
    })().catch(() => undefined)
    await presence.beat()
    presence.timer = setInterval(() => void presence.beat(), Math.max(50, Math.floor(ttlMs / 3)))
    return presence
  }

  private hear(entry: KvWatchEntry): void {
    const live = liveEntry(entry)
    const value = live && jsonObject(live)
    if (typeof value?.node !== 'string') {
      // A clean stop deletes the key; the key is the node's token, not its id.
      for (const node of this.heard.keys()) if (nodeToken(node) === entry.key) this.heard.delete(node)
      return
    }
    // A beat heard live counts from now (clocks of nodes may differ); one from before the
    // watch started from when it was written.
    const at = entry.isUpdate ? Date.now() : typeof value.at === 'number' ? value.at : 0
    this.heard.set(value.node, at)
  }

  /** The nodes heard heartbeating within the TTL, this one included; answered without NATS. */
  heardFrom(): string[] {
    const after = Date.now() - this.ttlMs
    const out = [this.nodeId]
    for (const [node, at] of this.heard) if (at >= after && node !== this.nodeId) out.push(node)
    return out
  }

  private async beat(): Promise<void> {
    // A heartbeat that has not come back yet (server away) is not stacked with another.
    if (this.beating) return
    this.beating = true
    try {
      // A put caught by a NATS outage may never settle: after a third of the TTL the next beat
      // goes out anyway (a late answer is harmless).
      await settleWithin(
        this.kv.put(
          nodeToken(this.nodeId),
          JSON.stringify({ node: this.nodeId, at: Date.now(), since: this.since, run: this.run }),
        ),
        Math.max(50, Math.floor(this.ttlMs / 3)),
      )
    } catch {
      // Disconnected: the next beat after reconnecting puts the key back.
    } finally {
      this.beating = false
    }
  }

  /** Whether `nodeId` has heartbeated within the TTL. */
  async isAlive(nodeId: string): Promise<boolean> {
    return liveEntry(await this.kv.get(nodeToken(nodeId))) !== undefined
  }

  /** The ids of the nodes alive now. */
  async alive(): Promise<string[]> {
    return Object.keys(await this.aliveSince())
  }

  /** The nodes alive now, each with when it joined (ms since the epoch; 0 if its beat has none). */
  async aliveSince(): Promise<Record<string, number>> {
    const out = (await this.beats()).map(({ node, since }): [string, number] => [node, since])
    return Object.fromEntries(out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  }

  /** The nodes alive now with the run each heartbeats from, this one included. */
  async aliveRuns(): Promise<Map<string, string | undefined>> {
    const out = new Map<string, string | undefined>()
    for (const { node, run } of await this.beats()) out.set(node, run)
    out.set(this.nodeId, this.run)
    return out
  }

  private async beats(): Promise<{ node: string; since: number; run: string | undefined }[]> {
    const out: { node: string; since: number; run: string | undefined }[] = []
    for await (const key of await this.kv.keys()) {
      const entry = liveEntry(await this.kv.get(key))
      const value = entry && jsonObject(entry)
      if (typeof value?.node === 'string')
        out.push({
          node: value.node,
          since: typeof value.since === 'number' ? value.since : 0,
          run: typeof value.run === 'string' ? value.run : undefined,
        })
    }
    return out
  }

  /** Stops heartbeating and removes this node's key, so others see it gone at once. */
  async stop(): Promise<void> {
    this.stopWatch?.()
    clearInterval(this.timer)
    this.timer = undefined
    try {
      await settleWithin(this.kv.delete(nodeToken(this.nodeId)), STOP_GUARD_MS)
    } catch {
      // Unreachable server: the key expires with the TTL instead.
    }
  }
}
