import { type Bridges, startBridges } from './bridge/index.ts'
import { installFileAccess } from './broker/access/index.ts'
import { Broker } from './broker/broker.ts'
import { startCluster } from './cluster/index.ts'
import { startListeners } from './listeners/index.ts'
import { registerHealthStore } from './ops/index.ts'
import { startMonitoring } from './ops/monitoring.ts'
import type { ScriptingHost } from './scripting/index.ts'
import { startScripts } from './scripts-start.ts'
import type { StartOptions } from './start-options.ts'
import { LmdbStore } from './store/lmdb.ts'
import { MemoryStore } from './store/memory.ts'
import { startWeb } from './web/index.ts'
import { ScriptLog, scriptBrokerWithLog } from './web/script-log.ts'

export type { BridgeSpec, BridgeStatus, Bridges, BridgeTlsSpec, BridgeTopicSpec } from './bridge/index.ts'
export { bridgesOf } from './bridge/index.ts'
export { Broker } from './broker/broker.ts'
export type {
  BrokerEvents,
  BrokerOptions,
  BrokerStats,
  ClaimedWill,
  ClientClaims,
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
export type { HealthReport } from './ops/index.ts'
export { healthHandler, healthReport } from './ops/index.ts'
export type { Monitoring } from './ops/monitoring.ts'
export { monitoringOf } from './ops/monitoring.ts'
export type {
  ScriptingHost,
  ScriptingOptions,
  ScriptLimitHit,
  ScriptLimitKind,
  ScriptState,
  ScriptStatus,
  ScriptThrottle,
} from './scripting/index.ts'
export type { StartOptions } from './start-options.ts'
export { DataDirError } from './store/errors.ts'
export { LmdbStore } from './store/lmdb.ts'
export { MemoryStore } from './store/memory.ts'
export type { SessionRecord, Store, StoredState } from './store/store.ts'
export type { WebDashboard, WebOptions } from './web/index.ts'
export { startWeb, webOf } from './web/index.ts'

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
  registerHealthStore(broker, store)
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
  let bridges: Bridges | undefined
  if (options.bridges !== undefined && options.bridges.length > 0) {
    try {
      bridges = await startBridges(broker, options.bridges)
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
      // In a slot, so a reload (src/ops/reload.ts) can switch to another script folder.
      scriptingHost = await startScripts(
        broker,
        scriptLog ? scriptBrokerWithLog(broker, scriptLog) : broker,
        scripting,
      )
    } catch (error) {
      await broker.close()
      throw error
    }
  }
  let metrics: (() => Promise<{ body: string; contentType: string }>) | undefined
  try {
    const host = scriptingHost
    const monitoring = await startMonitoring(broker, {
      sysInterval: options.sysInterval,
      metricsPort: options.metricsPort,
      metrics: options.http !== undefined,
      sources: { scripts: host && (() => host.scripts()), bridges: bridges && (() => bridges.status()) },
    })
    metrics = monitoring.scrape
  } catch (error) {
    await broker.close()
    throw error
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
        metrics,
      })
    } catch (error) {
      await broker.close()
      throw error
    }
  }
  return broker
}
