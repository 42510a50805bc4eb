/**
 * Wires "a client id is unique across the cluster" into a broker: the claims the broker makes
 * on CONNECT (cluster-claims.ts over client-lock.ts), the wills of connected clients
 * (will-registry.ts) and the sweep that publishes the wills of dead nodes (dead-node-wills.ts).
 */
import type { Logger } from 'pino'
import type { Broker } from '../broker/broker.ts'
import { ClientLock } from './client-lock.ts'
import { ClusterClaims, type SessionRecords } from './cluster-claims.ts'
import { DeadNodeWills } from './dead-node-wills.ts'
import type { ClusterNames } from './names.ts'
import type { NatsConnection } from './nats-connection.ts'
import type { NodePresence } from './node-presence.ts'
import { WillRegistry } from './will-registry.ts'

/** Attaches the claims to `broker`; the returned function detaches them and stops the sweep. */
export async function startUniqueClients(
  broker: Broker,
  conn: NatsConnection,
  names: ClusterNames,
  presence: NodePresence,
  logger: Logger,
  sessions: SessionRecords,
  replicas?: number,
): Promise<() => Promise<void>> {
  const wills = await WillRegistry.open(conn, names, presence, replicas)
  const claims = new ClusterClaims(wills, logger, sessions)
  const lock = await ClientLock.open(conn, names, {
    nodeId: presence.nodeId,
    run: presence.run,
    presence,
    onTakeover: (notice) => claims.onTakeover(notice),
  })
  claims.useLock(lock)
  broker.attachClaims(claims)
  const sweep = new DeadNodeWills(conn, presence, wills, lock, (input) => broker.publish(input), logger)
  sweep.start()
  return async () => {
    sweep.stop()
    broker.attachClaims(undefined)
    await lock.close()
  }
}
