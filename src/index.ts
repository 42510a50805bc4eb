import { type BridgeSpec, startBridges } from './bridge/index.ts'
import { installFileAccess } from './broker/access/index.ts'
import { Broker } from './broker/broker.ts'
import type { BrokerOptions } from './broker/types.ts'
import { type ClusterSpec, startCluster } from './cluster/index.ts'
import { type ListenerSpec, startListeners } from './listeners/index.ts'
import { type ScriptingHost, type ScriptingOptions, startScripting } from './scripting/index.ts'
import { LmdbStore } from './store/lmdb.ts'
import { MemoryStore } from './store/memory.ts'
import type { Store } from './store/store.ts'
import { startWeb } from './web/index.ts'
import { ScriptLog, scriptBrokerWithLog } from './web/script-log.ts'

export type { BridgeSpec, BridgeStatus, Bridges, BridgeTlsSpec, BridgeTopicSpec } from './bridge/index.ts'
export { bridgesOf } from './bridge/index.ts'
export { Broker } from './broker/broker.ts'
export type {
  BrokerEvents,
  BrokerOptions,
  BrokerStats,
  ClientDetails,
  ClientInfo,
  FabricInlet,
  Message,
  MessageHandler,
  ProtocolVersion,
  PublishInput,
  QoS,
  RemoteFabric,
  SubscribeOptions,
} from './broker/types.ts'
export type { Cluster, ClusterSpec, ClusterStatus } from './cluster/index.ts'
export { clusterOf } from './cluster/index.ts'
export type { Listener, ListenerSpec } from './listeners/index.ts'
export { listenersOf } from './listeners/index.ts'
export type {
  ScriptingHost,
  ScriptingOptions,
  ScriptLimitHit,
  ScriptLimitKind,
  ScriptState,
  ScriptStatus,
  ScriptThrottle,
} from './scripting/index.ts'
export { DataDirError } from './store/errors.ts'
export { LmdbStore } from './store/lmdb.ts'
export { MemoryStore } from './store/memory.ts'
export type { SessionRecord, Store, StoredState } from './store/store.ts'
export type { WebDashboard, WebOptions } from './web/index.ts'
export { startWeb, webOf } from './web/index.ts'

export interface StartOptions extends BrokerOptions {
  /** Persistence backend; when given, `data` and `memory` are ignored and the caller closes it. */
  store?: Store
  /**
   * Data directory for the durable store (created if missing). Unset: state is kept in memory
   * only; the CLI defaults it to ./tinymqtt-data.
   */
  data?: string | undefined
  /** Keep everything in memory even when `data` is set (the CLI's --memory). */
  memory?: boolean | undefined
  /** Script file or folder to load and watch, or the scripting host's full options. */
  scripts?: string | ScriptingOptions | undefined
  /** Extra listeners beside `port`: plain TCP, TLS, WebSocket, WebSocket over TLS. */
  listeners?: readonly ListenerSpec[] | undefined
  /** Mosquitto password file; with it, anonymous clients are refused. Re-read when it changes. */
  passwordFile?: string | undefined
  /** Mosquitto ACL file, applied to PUBLISH, SUBSCRIBE and delivery. Re-read when it changes. */
  aclFile?: string | undefined
  /** Serve the web dashboard on this HTTP port (0 picks a free one; read it back from webOf(broker).port). */
  http?: number | undefined
  /** The dashboard's own user and password; with them scripts may be edited from it (see WebOptions). */
  httpUser?: string | undefined
  httpPass?: string | undefined
  /** Host names a loopback dashboard without a password answers to besides localhost (see WebOptions). */
  httpAllowedHosts?: readonly string[] | undefined
  /** MQTT bridges to other brokers (README "Bridges"); read their status from bridgesOf(broker). */
  bridges?: readonly BridgeSpec[] | undefined
  /** Join other nodes as one broker over NATS JetStream (README "Cluster (preview)"); read its status from clusterOf(broker). */
  cluster?: ClusterSpec | undefined
}

/**
 * Starts a broker, and its scripting host when `scripts` is given; resolves once it is
 * listening and the scripts are loaded (the counterpart of mosq_broker_run).
 */
export async function startBroker(options: StartOptions = {}): Promise<Broker> {
  // Opened before the broker so a locked or unreadable data directory stops start-up here.
  const ownStore =
    options.store === undefined && options.data !== undefined && !options.memory
      ? await LmdbStore.open(options.data)
      : undefined
  // Without a data directory or a store of the caller's, state lives in this process only.
  const store = options.store ?? ownStore ?? new MemoryStore()
  const broker = new Broker({ ...options, store, ownsStore: options.store === undefined })
  const certificateUsers = options.listeners?.some(
    (l) => 'useIdentityAsUsername' in l && l.useIdentityAsUsername,
  )
  const access = await installFileAccess(broker, { ...options, certificateUsers }).catch(
    async (error: unknown) => {
      await ownStore?.close()
      throw error
    },
  )
  try {
    await broker.start()
  } catch (error) {
    await access?.close()
    await ownStore?.close()
    throw error
  }
  if (options.cluster !== undefined) {
    try {
      await startCluster(broker, options.cluster)
    } catch (error) {
      await broker.close()
      throw error
    }
  }
  if (options.listeners !== undefined && options.listeners.length > 0) {
    try {
      await startListeners(broker, options.listeners, access?.identities)
    } catch (error) {
      await broker.close()
      throw error
    }
  }
  if (options.bridges !== undefined && options.bridges.length > 0) {
    try {
      await startBridges(broker, options.bridges)
    } catch (error) {
      await broker.close()
      throw error
    }
  }
  let scriptingHost: ScriptingHost | undefined
  // With the dashboard, the scripting host's log lines are also kept for its Scripts view.
  const scriptLog = options.http !== undefined ? new ScriptLog() : undefined
  if (options.scripts !== undefined) {
    const scripting = typeof options.scripts === 'string' ? { path: options.scripts } : options.scripts
    try {
      const host = await startScripting(
        scriptLog ? scriptBrokerWithLog(broker, scriptLog) : broker,
        scripting,
      )
      broker.addCloseHook(() => host.close())
      scriptingHost = host
    } catch (error) {
      await broker.close()
      throw error
    }
  }
  if (options.http !== undefined) {
    try {
      // Registers its own close hook; started last, so it is the first thing closed.
      await startWeb(broker, {
        port: options.http,
        scripting: scriptingHost,
        scriptLog,
        user: options.httpUser,
        pass: options.httpPass,
        allowedHosts: options.httpAllowedHosts,
      })
    } catch (error) {
      await broker.close()
      throw error
    }
  }
  return broker
}
