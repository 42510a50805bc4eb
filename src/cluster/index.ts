/**
 * src/cluster: several tinymqtt nodes acting as one broker on NATS JetStream (README "Cluster
 * (preview)", docs/cluster.md). startCluster joins a running broker to the cluster: it
 * attaches the router's remote fabric (cluster-router.ts, routed messages on core NATS,
 * interest-based) and mirrors the cluster's retained messages (retained-replica.ts over
 * retained-store.ts) and shares persistent sessions' records (session-fabric.ts over
 * session-directory.ts). The other building blocks (client-lock, node-presence, node-lease) are
 * not wired in yet. What else lives here: README.md.
 *
 * Must not import: src/scripting, src/web, src/listeners, src/store, src/bridge, src/testing,
 * the entry points in src/; of src/broker only its public API (the Broker facade, types.ts).
 */
import type { Broker } from '../broker/broker.ts'
import { ClusterRouter } from './cluster-router.ts'
import { type ClusterSpec, defaultNodeId } from './config.ts'
import { clusterNames } from './names.ts'
import { type ConnectionState, NatsConnection, type NatsTlsOptions } from './nats-connection.ts'
import { RetainedReplica } from './retained-replica.ts'
import { RetainedStore } from './retained-store.ts'
import { SessionDirectory } from './session-directory.ts'
import { ClusterSessionFabric } from './session-fabric.ts'

export type { ClusterSpec } from './config.ts'
export { clusterSpecFromArg, parseClusterSpec } from './config.ts'

/**
 * How long a retained delete's tombstone stays in the stream before it is purged: every node
 * following the stream reads it long before; one that was cut off longer resynchronises.
 */
const TOMBSTONE_LINGER_MS = 60_000

/** A running cluster membership, for status and tests. */
export interface Cluster {
  readonly nodeId: string
  status(): ClusterStatus
  /**
   * Resolves once the NATS server has processed everything this node sent so far, its
   * subscriptions included: from then on it receives what other nodes publish on them.
   */
  flush(): Promise<void>
}

export interface ClusterStatus {
  nodeId: string
  nats: ConnectionState
  /** The MQTT filters this node has NATS subscriptions for (its local subscribers' filters). */
  filters: string[]
  /** Messages received from other nodes and delivered here. */
  received: number
}

const running = new WeakMap<Broker, Cluster>()

/**
 * Joins a started broker to the cluster; resolves once its retained messages match the
 * cluster's. Leaves the cluster when the broker closes. Rejects (and leaves nothing behind)
 * when no NATS server accepts the connection.
 */
export async function startCluster(broker: Broker, spec: ClusterSpec): Promise<Cluster> {
  const names = clusterNames(spec.name)
  const nodeId = spec.node ?? defaultNodeId(broker.port)
  const logger = broker.logger.child({ node: nodeId })
  const conn = new NatsConnection({
    servers: spec.servers,
    name: `tinymqtt ${nodeId}`,
    ...(spec.user !== undefined ? { user: spec.user } : {}),
    ...(spec.pass !== undefined ? { pass: spec.pass } : {}),
    ...(spec.token !== undefined ? { token: spec.token } : {}),
    ...(spec.tls ? { tls: tlsOf(spec.tls) } : {}),
    noEcho: true,
  })
  await conn.connect()
  conn.on('disconnected', (server) => logger.warn({ server }, 'cluster: NATS connection lost; reconnecting'))
  conn.on('problem', (error) => logger.warn({ err: error }, 'cluster: NATS problem'))
  let router: ClusterRouter | undefined
  let replica: RetainedReplica | undefined
  let retained: RetainedStore | undefined
  let sessions: SessionDirectory | undefined
  try {
    retained = await RetainedStore.open(conn, names, {
      tombstoneLingerMs: TOMBSTONE_LINGER_MS,
      ...(spec.replicas !== undefined ? { replicas: spec.replicas } : {}),
    })
    sessions = await SessionDirectory.open(conn, names, spec.replicas)
    broker.attachSessionFabric(new ClusterSessionFabric(sessions, nodeId, logger))
    const clusterRouter = new ClusterRouter(conn, names, nodeId, retained, logger)
    router = clusterRouter
    const inlet = broker.attachFabric(clusterRouter)
    // NATS delivers on a later turn of the event loop: nothing arrives before the inlet is set.
    clusterRouter.connect(inlet)
    const mirror = new RetainedReplica(retained, inlet, logger)
    replica = mirror
    broker.addCloseHook(async () => {
      inlet.detach()
      clusterRouter.stop()
      await mirror.stop()
      retained?.close()
      sessions?.stop()
      await conn.close()
    })
    await mirror.start()
  } catch (error) {
    router?.stop()
    await replica?.stop()
    retained?.close()
    sessions?.stop()
    await conn.close()
    throw error
  }
  conn.on('reconnected', (server) => {
    logger.info({ server }, 'cluster: NATS connection back; re-reading retained messages')
    replica?.resync()
  })
  logger.info({ servers: spec.servers, cluster: names.cluster, origin: router.origin }, 'joined the cluster')
  const routerNow = router
  const cluster: Cluster = {
    nodeId,
    status: () => ({ nodeId, nats: conn.state, filters: routerNow.filters, received: routerNow.received }),
    flush: () => conn.connection.flush(),
  }
  running.set(broker, cluster)
  return cluster
}

/** The cluster this broker joined (startBroker's `cluster`), if any. */
export function clusterOf(broker: Broker): Cluster | undefined {
  return running.get(broker)
}

function tlsOf(tls: true | NonNullable<Exclude<ClusterSpec['tls'], boolean>>): NatsTlsOptions {
  if (tls === true) return {}
  const out: NatsTlsOptions = {}
  if (tls.ca !== undefined) out.caFile = tls.ca
  if (tls.cert !== undefined) out.certFile = tls.cert
  if (tls.key !== undefined) out.keyFile = tls.key
  return out
}
