/**
 * "The scripts run on exactly one node": this node's part in the `scripts` lease
 * (node-lease.ts), with the store the scripts' `persist` uses while clustered
 * (script-states.ts). The entry that starts the scripting host (src/scripts-start.ts) starts
 * the scripts on `acquired` and stops them on `lost`; src/cluster itself never sees them.
 */
import type { Logger } from 'pino'
import type { ClusterNames } from './names.ts'
import type { NatsConnection } from './nats-connection.ts'
import { NodeLease } from './node-lease.ts'
import { ScriptStates } from './script-states.ts'

/** Default lease: a dead holder is replaced 6 to 10 s after its last renewal. */
export const DEFAULT_LEASE_SECONDS = 6

export interface ScriptsLease {
  /** Whether this node holds the lease (runs the scripts) now. */
  readonly held: boolean
  /** Resolves once this node's first attempt at the lease is over. */
  settled(): Promise<void>
  /** The node holding the lease, read from the server. */
  holder(): Promise<string | undefined>
  /** `listener(true)` when this node takes the lease, `listener(false, reason)` when it loses it. */
  onChange(listener: (held: boolean, reason?: string) => void): void
  /** The scripts' saved states, by script name. */
  loadStates(): Promise<Map<string, string>>
  saveState(name: string, json: string | undefined): void
}

export async function startScriptsLease(
  conn: NatsConnection,
  names: ClusterNames,
  nodeId: string,
  logger: Logger,
  opts: { leaseSeconds?: number | undefined; replicas?: number | undefined },
): Promise<{ lease: ScriptsLease; stop(): Promise<void> }> {
  const states = await ScriptStates.open(conn, names, logger, opts.replicas)
  const lease = await NodeLease.start(conn, names, {
    nodeId,
    name: 'scripts',
    leaseMs: (opts.leaseSeconds ?? DEFAULT_LEASE_SECONDS) * 1000,
  })
  lease.on('acquired', () => logger.info('cluster: this node runs the scripts'))
  lease.on('lost', (reason) => logger.warn({ reason }, 'cluster: this node no longer runs the scripts'))
  const view: ScriptsLease = {
    get held() {
      return lease.held
    },
    settled: () => lease.settled(),
    holder: () => lease.holder(),
    onChange(listener) {
      lease.on('acquired', () => listener(true))
      lease.on('lost', (reason) => listener(false, reason))
    },
    loadStates: () => states.load(),
    saveState: (name, json) => states.put(name, json),
  }
  return {
    lease: view,
    // The scripts are stopped first (their deinit saves `persist`), then the lease goes.
    stop: async () => {
      await states.flush()
      await lease.stop()
    },
  }
}
