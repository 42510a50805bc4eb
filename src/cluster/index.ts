/**
 * src/cluster: several tinymqtt nodes acting as one broker on NATS JetStream (README "Cluster
 * (preview)", docs/cluster.md). startCluster joins a running broker to the cluster: it
 * attaches the router's remote fabric (cluster-router.ts, routed messages on core NATS,
 * interest-based) and mirrors the cluster's retained messages (retained-replica.ts over
 * retained-store.ts), heartbeats its presence (node-presence.ts) and, when asked, contends for
 * the scripts lease (scripts-lease.ts), and makes client ids unique across nodes with the wills of
 * dead nodes' clients published (unique-clients.ts), and shares persistent sessions' records
 * (session-fabric.ts over session-directory.ts). What else lives here: README.md.
 *
 * Must not import: src/scripting, src/web, src/listeners, src/store, src/bridge, src/testing,
 * the entry points in src/; of src/broker only its public API (the Broker facade, types.ts).
 */
import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import type { Broker } from '../broker/broker.ts'
import type { SharedSession } from '../broker/types.ts'
import { settleWithin } from '../util/settle-within.ts'
import { ClusterOverview } from './cluster-overview.ts'
import { ClusterRouter } from './cluster-router.ts'
import { type ClusterSpec, defaultNodeId } from './config.ts'
import { DeadNodeSessions } from './dead-node-sessions.ts'
import { RECONNECT_SLACK_MS } from './dead-node-wills.ts'
import { clusterNames } from './names.ts'
import { type ConnectionState, NatsConnection, type NatsTlsOptions } from './nats-connection.ts'
import { NodePresence } from './node-presence.ts'
import { RetainedReplica } from './retained-replica.ts'
import { RetainedStore } from './retained-store.ts'
import { RouteReplay } from './route-replay.ts'
import { type ScriptsLease, startScriptsLease } from './scripts-lease.ts'
import { SessionDirectory } from './session-directory.ts'
import { ClusterSessionFabric } from './session-fabric.ts'
import { SessionMessages } from './session-messages.ts'
import { SessionQueue } from './session-queue.ts'
import { SharedCopies } from './shared-copies.ts'
import { SharedQueues } from './shared-queues.ts'
import { startUniqueClients } from './unique-clients.ts'

export type { ClusterSpec } from './config.ts'
export { clusterSpecFromArg, parseClusterSpec } from './config.ts'
export type { ScriptsLease } from './scripts-lease.ts'

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
  /**
   * Joins the contest for the scripts lease (started once, on first call; left when the broker
   * closes): the caller runs the scripts only while it is held.
   */
  scriptsLease(): Promise<ScriptsLease>
  /** The cluster's record of `clientId`'s persistent session as this node sees it now. */
  session(clientId: string): SharedSession | undefined
}

export interface ClusterStatus {
  nodeId: string
  nats: ConnectionState
  /** The MQTT filters this node has NATS subscriptions for (its local subscribers' filters). */
  filters: string[]
  /** Messages received from other nodes and delivered here. */
  received: number
  /** Of those, the ones this node missed while away from NATS and got from their origins after. */
  replayed: number
  /** Catch-ups in which an origin said part of what was missed had left its history (logged). */
  replayGaps: number
  /** The nodes alive (heartbeating), this one included, as last read (at most a second old). */
  nodes: string[]
  /** The node running the scripts (holding the scripts lease), or null. */
  scriptsNode: string | null
  /** When each node alive joined (ms since the epoch), by node id. */
  nodesSince: Record<string, number>
}

const running = new WeakMap<Broker, Cluster>()

/** How long each step of leaving the cluster may wait for NATS before the broker closes anyway. */
const CLOSE_GUARD_MS = 10_000

/**
 * Adds a close hook whose NATS work is waited for at most CLOSE_GUARD_MS: a request caught by
 * an outage can stay pending for good, and a broker must still close (the keys it leaves
 * expire with their TTLs).
 */
function closeWithCluster(broker: Broker, logger: Logger, what: string, hook: () => Promise<void>): void {
  broker.addCloseHook(async () => {
    const result = await settleWithin(hook(), CLOSE_GUARD_MS)
    if (!result.done)
      logger.warn(`cluster: ${what} did not finish within ${CLOSE_GUARD_MS} ms; closing anyway`)
  })
}

/** Presence TTL: a node that stops heartbeating counts as dead after this (docs/cluster.md). */
const DEFAULT_PRESENCE_SECONDS = 6

/**
 * Joins a started broker to the cluster; resolves once its retained messages match the
 * cluster's. Leaves the cluster when the broker closes. Rejects (and leaves nothing behind)
 * when no NATS server accepts the connection.
 */
export async function startCluster(broker: Broker, spec: ClusterSpec): Promise<Cluster> {
  const names = clusterNames(spec.name)
  const nodeId = spec.node ?? defaultNodeId(broker.port)
  const logger = broker.logger.child({ node: nodeId })
  // This start of the node: a node killed and started again under its id (a supervisor's
  // restart) is told apart from its previous run, whose wills, locks and sessions are left over.
  const run = randomBytes(6).toString('base64url')
  const natsOptions = {
    servers: spec.servers,
    ...(spec.user !== undefined ? { user: spec.user } : {}),
    ...(spec.pass !== undefined ? { pass: spec.pass } : {}),
    ...(spec.token !== undefined ? { token: spec.token } : {}),
    ...(spec.tls ? { tls: tlsOf(spec.tls) } : {}),
  }
  const conn = new NatsConnection({ ...natsOptions, name: `tinymqtt ${nodeId}`, noEcho: true })
  await conn.connect()
  // $share groups need a node's own publishes too (shared-queues.ts): a second connection, echo on.
  const sharedConn = new NatsConnection({ ...natsOptions, name: `tinymqtt ${nodeId} shared` })
  try {
    await sharedConn.connect()
  } catch (error) {
    await conn.close()
    throw error
  }
  conn.on('disconnected', (server) => logger.warn({ server }, 'cluster: NATS connection lost; reconnecting'))
  conn.on('problem', (error) => logger.warn({ err: error }, 'cluster: NATS problem'))
  let router: ClusterRouter | undefined
  let replica: RetainedReplica | undefined
  let retained: RetainedStore | undefined
  let sessions: SessionDirectory | undefined
  let messages: SessionMessages | undefined
  let routeReplay: RouteReplay | undefined
  let sessionRecords: ClusterSessionFabric | undefined
  try {
    retained = await RetainedStore.open(conn, names, {
      tombstoneLingerMs: TOMBSTONE_LINGER_MS,
      ...(spec.replicas !== undefined ? { replicas: spec.replicas } : {}),
    })
    sessions = await SessionDirectory.open(conn, names, spec.replicas)
    const clusterRouter = new ClusterRouter(conn, names, nodeId, run, retained, logger)
    router = clusterRouter
    const queue = await SessionQueue.open(conn, names, clusterRouter.origin, spec.replicas)
    const kept = new SessionMessages(queue, sessions, nodeId, logger)
    messages = kept
    const sessionFabric = new ClusterSessionFabric(sessions, nodeId, run, kept, logger)
    sessionRecords = sessionFabric
    const fabricInlet = broker.attachSessionFabric(sessionFabric)
    sessionFabric.follow(fabricInlet)
    // Routed messages sent while this node was away from NATS never reach it; the copies kept
    // for its persistent sessions do. Read again once the other nodes are surely back too:
    // what their publishers sent meanwhile is stored only then.
    conn.on('reconnected', () => {
      fabricInlet.missedMessages()
      setTimeout(() => fabricInlet.missedMessages(), RECONNECT_SLACK_MS).unref()
    })
    kept.readAgain = (clientId) => fabricInlet.missedMessages(clientId)
    clusterRouter.sessionMessages = kept
    const replay = new RouteReplay(conn, names, clusterRouter, logger)
    clusterRouter.replay = replay
    const queues = new SharedQueues(sharedConn, names, logger)
    const sharedCopies = new SharedCopies(queue, kept, logger)
    queues.copies = sharedCopies
    clusterRouter.sharedQueues = queues
    const inlet = broker.attachFabric(clusterRouter)
    // NATS delivers on a later turn of the event loop: nothing arrives before the inlet is set.
    clusterRouter.connect(inlet)
    queues.connect(inlet)
    sharedCopies.connect(inlet)
    replay.start()
    routeReplay = replay
    const mirror = new RetainedReplica(retained, inlet, logger)
    replica = mirror
    clusterRouter.retainedCopy = mirror
    closeWithCluster(broker, logger, 'closing the NATS connections', async () => {
      inlet.detach()
      clusterRouter.stop()
      sharedCopies.stop()
      kept.stop()
      await mirror.stop()
      retained?.close()
      queues.stop()
      await sharedConn.close()
      sessions?.stop()
      await conn.close()
    })
    await mirror.start()
  } catch (error) {
    router?.stop()
    messages?.stop()
    await replica?.stop()
    retained?.close()
    await sharedConn.close()
    sessions?.stop()
    await conn.close()
    throw error
  }
  conn.on('reconnected', (server) => {
    logger.info({ server }, 'cluster: NATS connection back; re-reading retained messages')
    replica?.resync()
  })
  const routerNow = router
  const sessionsNow = sessions
  const messagesNow = messages
  const sessionRecordsNow = sessionRecords
  let presence: NodePresence | undefined
  let overview: ClusterOverview
  try {
    presence = await NodePresence.start(conn, names, {
      nodeId,
      run,
      ttlMs: (spec.presenceSeconds ?? DEFAULT_PRESENCE_SECONDS) * 1000,
    })
    overview = await ClusterOverview.open(conn, names, presence)
    const presenceHeard = presence
    if (routeReplay) routeReplay.liveNodes = () => presenceHeard.heardFrom()
    const stopClaims = await startUniqueClients(
      broker,
      conn,
      names,
      presence,
      logger,
      sessionRecordsNow,
      spec.replicas,
    )
    closeWithCluster(broker, logger, 'releasing the client ids', stopClaims)
    const deadSessions = new DeadNodeSessions(
      conn,
      presence,
      sessionsNow,
      messagesNow,
      (record) => sessionRecordsNow.takeIn(record),
      logger,
    )
    deadSessions.start()
    closeWithCluster(broker, logger, "stopping the dead nodes' session expiry", async () =>
      deadSessions.stop(),
    )
  } catch (error) {
    // The close hook above closes the connection when the caller closes the broker.
    await presence?.stop()
    throw error
  }
  const presenceNow = presence
  // Registered last, so it runs first on close: the node is seen gone before its routes go.
  closeWithCluster(broker, logger, 'leaving the presence bucket', () => presenceNow.stop())
  logger.info({ servers: spec.servers, cluster: names.cluster, origin: router.origin }, 'joined the cluster')
  let scripts: Promise<ScriptsLease> | undefined
  const cluster: Cluster = {
    nodeId,
    status: () => {
      const { nodes, since, scriptsNode } = overview.current()
      return {
        nodeId,
        nats: conn.state,
        filters: routerNow.filters,
        received: routerNow.received,
        replayed: routerNow.replay?.replayed ?? 0,
        replayGaps: routerNow.replay?.gaps ?? 0,
        nodes,
        scriptsNode,
        nodesSince: since,
      }
    },
    flush: () => conn.connection.flush(),
    session: (clientId) => sessionsNow.get(clientId),
    scriptsLease: () => {
      scripts ??= startScriptsLease(conn, names, nodeId, logger, spec).then(({ lease, stop }) => {
        // Registered after the scripts' own close hook, so it runs before the connection closes
        // and after the scripts saved their state.
        closeWithCluster(broker, logger, 'giving up the scripts lease', stop)
        return lease
      })
      return scripts
    },
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
