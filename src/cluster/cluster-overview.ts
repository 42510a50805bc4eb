/**
 * Who is in the cluster and which node runs the scripts, for the dashboard's Cluster view and
 * `Cluster.status()`: read from the presence bucket (node-presence.ts) and the scripts lease's
 * key, at most once a second and only while somebody asks, so a status call stays synchronous
 * and cheap (it answers from the last reading and starts the next one).
 */
import type { KV } from '@nats-io/kv'
import { settleWithin } from '../util/settle-within.ts'
import { jsonObject, liveEntry } from './kv-util.ts'
import type { ClusterNames } from './names.ts'
import type { NatsConnection } from './nats-connection.ts'
import type { NodePresence } from './node-presence.ts'

const REFRESH_MS = 1000

export interface ClusterOverviewData {
  /** The ids of the nodes alive (heartbeating), sorted; empty before the first reading. */
  nodes: string[]
  /** When each node alive joined (ms since the epoch), by node id. */
  since: Record<string, number>
  /** The node holding the scripts lease, or null (nobody runs scripts). */
  scriptsNode: string | null
  /** When this was read (ms since the epoch); 0 before the first reading. */
  readAt: number
}

export class ClusterOverview {
  private data: ClusterOverviewData = { nodes: [], since: {}, scriptsNode: null, readAt: 0 }
  private reading: Promise<void> | undefined

  private constructor(
    private readonly presence: NodePresence,
    private readonly leases: KV,
  ) {}

  static async open(
    conn: NatsConnection,
    names: ClusterNames,
    presence: NodePresence,
  ): Promise<ClusterOverview> {
    const overview = new ClusterOverview(presence, await conn.kv(names.leasesBucket, { history: 1 }))
    await overview.refresh()
    return overview
  }

  /** The last reading; starts a new one when it is older than a second. */
  current(): ClusterOverviewData {
    if (Date.now() - this.data.readAt >= REFRESH_MS) void this.refresh()
    return this.data
  }

  /** Reads the presence bucket and the lease now (one reading at a time; failures keep the last). */
  refresh(): Promise<void> {
    // A reading caught by a NATS outage can hang: after a guard the next one may start.
    this.reading ??= settleWithin(this.read(), 10_000)
      .then(() => undefined)
      .finally(() => {
        this.reading = undefined
      })
    return this.reading
  }

  private async read(): Promise<void> {
    try {
      const since = await this.presence.aliveSince()
      const nodes = Object.keys(since)
      const entry = liveEntry(await this.leases.get('scripts'))
      const holder = entry && jsonObject(entry)?.node
      this.data = {
        nodes,
        since,
        scriptsNode: typeof holder === 'string' ? holder : null,
        readAt: Date.now(),
      }
    } catch {
      // NATS away: the view shows the last reading with its time.
    }
  }
}
