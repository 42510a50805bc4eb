/**
 * src/web: the web dashboard: one HTTP server (page, JSON views, actions) with a WebSocket feed
 * of live, batched updates. Built only on the broker's embedding API, like the scripting host.
 *
 * Owns: the server and its HTTP helpers (server.ts, http-util.ts, http-auth.ts), the views
 * (views.ts) and the live feed (feed.ts), what it records from the broker for them (recorder.ts,
 * topic-model.ts, devices.ts, homeassistant.ts), the scripts' side (script-log.ts,
 * script-access.ts, script-folder.ts, script-edit-api.ts), the browser page (assets/, plain
 * scripts served as they are) and the script editor bundled from editor/ by
 * scripts/build-editor.mjs.
 *
 * Must not import: the broker's internals (only its API modules: broker.ts, types.ts,
 * topic-rules.ts …), the scripting host beyond src/scripting/index.ts, the listeners beyond
 * src/listeners/index.ts, src/store, src/testing, the entry points in src/. Nothing imports it
 * but src/index.ts (.dependency-cruiser.cjs).
 */
import type { Broker } from '../broker/broker.ts'
import type { ScriptingHost } from '../scripting/index.ts'
import { listenOn } from '../util/listen.ts'
import { DeviceIndex } from './devices.ts'
import { Feed } from './feed.ts'
import { DiscoveryIndex } from './homeassistant.ts'
import { Recorder } from './recorder.ts'
import { type DashboardAccess, scriptWritesRefusal } from './script-access.ts'
import type { ScriptLog } from './script-log.ts'
import { createWebServer, type MetricsScrape } from './server.ts'
import { TopicModel } from './topic-model.ts'
import { Views } from './views.ts'

export type { Device, Relay } from './devices.ts'
export type { HaDevice, HaEntity, HaMalformed, HaView } from './homeassistant.ts'
export type { DashboardAccess } from './script-access.ts'
export { hostAllowed, scriptWritesAllowed, scriptWritesRefusal } from './script-access.ts'
export type { ScriptLogLine } from './script-log.ts'
export { ScriptLog, scriptBrokerWithLog } from './script-log.ts'
export type { BrokerView, ClientsView, ScriptsView, TopicsView, ViewName } from './views.ts'

export interface WebOptions {
  /** HTTP port (0 picks a free one; read it back from `port`). */
  port: number
  /** Bind address (default: the broker's). */
  host?: string | undefined
  /** The scripting host, for the Scripts view. */
  scripting?: ScriptingHost | undefined
  /** The scripting host's log lines (see scriptBrokerWithLog), for the Scripts view's tail. */
  scriptLog?: ScriptLog | undefined
  /** How often live updates are batched to open pages (default 250 ms). */
  intervalMs?: number | undefined
  /**
   * How long every topic is still recorded after the last page left the Topics view (a reload
   * keeps the tree) or after an HTTP read of the topics view (default 60 s).
   */
  lingerMs?: number | undefined
  /**
   * Messages a second the Topics tree records at most (default 10,000); above that it samples,
   * so that a busy broker spends a few per cent at most on it (`npm run bench -- web`). Device
   * and Home Assistant topics are always recorded in full.
   */
  recordBudget?: number | undefined
  /**
   * The dashboard's own user and password (HTTP Basic). When both are set they are asked for
   * instead of the broker's users, and scripts may be edited from the dashboard.
   */
  user?: string | undefined
  pass?: string | undefined
  /**
   * Host names a loopback dashboard without a password may be reached under besides loopback
   * addresses and localhost (a name in /etc/hosts, a reverse proxy's); others get 403.
   */
  allowedHosts?: readonly string[] | undefined
  /**
   * Prometheus metrics to serve at GET /metrics, behind the same authentication as the rest of
   * the dashboard (src/ops builds them; startBroker passes them on).
   */
  metrics?: MetricsScrape | undefined
}

export interface WebDashboard {
  readonly port: number
  /** Open live-update connections. */
  readonly pages: number
  /**
   * Whether every message is recorded for the Topics tree (while a page shows it, and for
   * `lingerMs` after); otherwise only the topics of the Devices and Home Assistant views are.
   */
  readonly recording: boolean
  /** Stops serving and drops open pages. Idempotent. */
  close(): Promise<void>
}

const running = new WeakMap<Broker, WebDashboard>()

/** The dashboard started for a broker, if any. */
export function webOf(broker: Broker): WebDashboard | undefined {
  return running.get(broker)
}

/** Starts the dashboard next to a running broker and registers its closing with the broker. */
export async function startWeb(broker: Broker, options: WebOptions): Promise<WebDashboard> {
  const model = new TopicModel()
  const devices = new DeviceIndex(model)
  const discovery = new DiscoveryIndex(model)
  const recorder = new Recorder(
    broker,
    model,
    discovery,
    options.lingerMs ?? 60_000,
    options.recordBudget ?? 10_000,
  )
  let port = options.port
  const access: DashboardAccess = {
    user: options.user,
    pass: options.pass,
    bindHost: options.host ?? broker.options.host,
    allowedHosts: options.allowedHosts,
  }
  const views = new Views({
    broker,
    model,
    devices,
    discovery,
    recorder,
    scripting: options.scripting,
    scriptLog: options.scriptLog,
    httpHost: options.host ?? broker.options.host,
    httpPort: () => port,
    editRefusal: options.scripting ? scriptWritesRefusal(access) : undefined,
  })
  const feed = new Feed(broker, model, recorder, views, options.intervalMs ?? 250)
  const { server, wss } = createWebServer({
    broker,
    views,
    onSocket: (ws) => feed.add(ws),
    beforeRead: (view) => {
      // A reader without a page sees the retained topics now, and live ones on its next reads.
      if (view === 'topics') recorder.read()
      model.ingest()
    },
    scripting: options.scripting,
    access,
    metrics: options.metrics,
  })
  const unsubscribe = (): void => recorder.close()
  model.ingest()
  const host = options.host ?? broker.options.host
  try {
    port = await listenOn(server, options.port, host)
  } catch (error) {
    unsubscribe()
    feed.close()
    throw error
  }
  broker.logger.info({ host, port }, 'dashboard listening')
  let closing: Promise<void> | undefined
  const dashboard: WebDashboard = {
    port,
    get pages() {
      return feed.size
    },
    get recording() {
      return recorder.recording
    },
    close() {
      closing ??= (async () => {
        unsubscribe()
        feed.close()
        wss.close()
        const closed = new Promise<void>((resolve) => server.close(() => resolve()))
        server.closeAllConnections()
        await closed
        running.delete(broker)
      })()
      return closing
    },
  }
  running.set(broker, dashboard)
  broker.addCloseHook(() => dashboard.close())
  return dashboard
}
