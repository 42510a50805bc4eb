// The options of startBroker, in a module of their own so the settings table (src/settings)
// can check its rows against them without importing the entry point that starts everything.
import type { BridgeSpec } from './bridge/index.ts'
import type { BrokerOptions } from './broker/types.ts'
import type { ClusterSpec } from './cluster/index.ts'
import type { ListenerSpec } from './listeners/index.ts'
import type { ScriptingOptions } from './scripting/index.ts'
import type { Store } from './store/store.ts'

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
  /**
   * Seconds between updates of the $SYS topics (README "$SYS topics"). Unset or 0: none, so an
   * embedded broker stays quiet unless asked; the command line defaults it to 10, as Mosquitto.
   */
  sysInterval?: number | undefined
  /**
   * Serve Prometheus metrics at GET /metrics on this port alone (0 picks a free one; read it
   * back from monitoringOf(broker).metricsPort). With `http` the dashboard serves them too.
   */
  metricsPort?: number | undefined
}
