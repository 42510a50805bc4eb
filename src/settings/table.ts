// The table itself: one row per setting, in the order of --help and of the README table, and
// the types every other part derives from it.
import { InvalidArgumentError } from 'commander'
import { type BridgeSpec, parseBridgeSpecs } from '../bridge/config.ts'
import { brokerDefaults } from '../broker/broker-options.ts'
import { defaultLastValues } from '../broker/last-values.ts'
import { type ClusterSpec, clusterSpecFromArg, parseClusterSpec } from '../cluster/config.ts'
import { parseListenerSpecs } from '../listeners/config.ts'
import type { ListenerSpec } from '../listeners/types.ts'
import { defaultSysInterval } from '../ops/monitoring.ts'
import {
  boolean,
  type Consumer,
  degrees,
  int,
  list,
  object,
  oneOf,
  path,
  type Setting,
  string,
} from './kinds.ts'

/** Where the command line keeps state when neither --data nor --memory is given. */
export const defaultDataDir = './tinymqtt-data'
/** The script the command line loads when --scripts is not given, if it exists. */
export const defaultScript = 'autoexec.js'
export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/** The table. Its order is the order of --help and of the README table. */
export const settings = {
  port: int({
    consumer: 'broker',
    short: 'p',
    default: brokerDefaults.port,
    help: 'MQTT TCP port (0 picks a free one)',
  }),
  host: string({
    consumer: 'broker',
    short: 'H',
    arg: '<addr>',
    default: brokerDefaults.host,
    help: 'bind address',
  }),
  user: string({
    consumer: 'broker',
    arg: '<name>',
    help: 'the single user; when unset, anonymous clients are allowed',
  }),
  pass: string({ consumer: 'broker', arg: '<password>', help: "the single user's password" }),
  scripts: path({
    consumer: 'startBroker',
    short: 's',
    arg: '<path>',
    default: `./${defaultScript} if it exists`,
    help: 'script file or folder to load and watch',
  }),
  data: path({
    consumer: 'startBroker',
    short: 'd',
    arg: '<dir>',
    default: defaultDataDir,
    help: 'where persistent state lives',
  }),
  memory: boolean({ consumer: 'startBroker', help: 'keep everything in memory (no data directory)' }),
  config: path({ consumer: 'cli', help: 'read settings from a JSON file (command-line options win)' }),
  logLevel: oneOf(logLevels, { consumer: 'broker', arg: '<level>', default: 'info', help: 'log level' }),
  maxPacketSize: int({
    consumer: 'broker',
    arg: '<bytes>',
    default: brokerDefaults.maxPacketSize,
    help: 'largest accepted packet',
  }),
  maxInflight: int({
    consumer: 'broker',
    default: brokerDefaults.maxInflight,
    help: 'outgoing QoS 1/2 messages in flight per client',
  }),
  maxQueuedMessages: int({
    consumer: 'broker',
    default: brokerDefaults.maxQueuedMessages,
    help: 'messages queued per client behind that window',
  }),
  stallTimeout: int({
    consumer: 'broker',
    arg: '<s>',
    default: brokerDefaults.stallTimeout,
    help: 'seconds a congested subscriber may go without acknowledging before publishers stop waiting for it (0: never wait)',
  }),
  connectTimeout: int({
    consumer: 'broker',
    arg: '<s>',
    min: 1,
    default: brokerDefaults.connectTimeout,
    help: 'seconds a new connection may take to send CONNECT (TLS and WebSocket handshakes included)',
  }),
  maxKeepalive: int({
    consumer: 'broker',
    arg: '<s>',
    max: 65_535,
    default: brokerDefaults.maxKeepalive,
    help: 'MQTT 5: longest keepalive granted, in seconds; a client asking for more (or 0) gets this as Server Keep Alive (0: no cap)',
  }),
  receiveMaximum: int({
    consumer: 'broker',
    min: 1,
    max: 65_535,
    default: brokerDefaults.receiveMaximum,
    help: 'MQTT 5: unacknowledged QoS 1/2 messages a client may send the broker at once (Receive Maximum in CONNACK)',
  }),
  lastValues: int({
    consumer: 'broker',
    default: `${defaultLastValues} while scripts run`,
    help: 'topics in the last-value cache scripts read with ms_get (0: off; n: on from the start)',
  }),
  tlsPort: int({ consumer: 'listeners', help: 'MQTT over TLS listener (needs --cert and --key)' }),
  wsPort: int({ consumer: 'listeners', help: 'MQTT over WebSocket listener (path /mqtt)' }),
  wssPort: int({
    consumer: 'listeners',
    help: 'MQTT over WebSocket with TLS listener (needs --cert and --key)',
  }),
  cert: path({ consumer: 'listeners', help: 'PEM certificate (chain) for the TLS listeners' }),
  key: path({ consumer: 'listeners', help: 'PEM private key for the TLS listeners' }),
  ca: path({
    consumer: 'listeners',
    help: 'PEM CA bundle: TLS clients must present a certificate it signed',
  }),
  useIdentityAsUsername: boolean({
    consumer: 'listeners',
    help: "with --ca: the client certificate's CN is the user name",
  }),
  listeners: object<ListenerSpec[], 'startBroker'>(
    'Listeners',
    { consumer: 'startBroker', help: 'any number of extra listeners: tcp, tls, ws, wss' },
    (value, { where }) => parseListenerSpecs(value, where),
  ),
  passwordFile: path({
    consumer: 'startBroker',
    help: 'Mosquitto password file (re-read when it changes)',
  }),
  aclFile: path({ consumer: 'startBroker', help: 'Mosquitto ACL file (re-read when it changes)' }),
  http: int({
    consumer: 'startBroker',
    arg: '<port>',
    default: 'off',
    help: 'serve the web dashboard on this port (same bind address as MQTT)',
  }),
  httpUser: string({
    consumer: 'startBroker',
    arg: '<name>',
    help: "the dashboard's own user; with --http-pass, scripts can be edited from it",
  }),
  httpPass: string({ consumer: 'startBroker', arg: '<password>', help: "the dashboard's own password" }),
  httpAllowedHosts: list('host names', {
    consumer: 'startBroker',
    help: 'host names a loopback dashboard without a password answers to besides localhost',
  }),
  latitude: degrees(90, {
    consumer: 'scripting',
    help: "the broker's latitude, for sun-event schedules (with --longitude; negative: south)",
  }),
  longitude: degrees(180, {
    consumer: 'scripting',
    help: "the broker's longitude, for sun-event schedules (with --latitude; negative: west)",
  }),
  sysInterval: int({
    consumer: 'startBroker',
    arg: '<s>',
    default: `${defaultSysInterval} (startBroker: 0)`,
    help: 'seconds between updates of the $SYS topics (0: none)',
  }),
  metricsPort: int({
    consumer: 'startBroker',
    arg: '<port>',
    default: 'off',
    help: 'serve Prometheus metrics at /metrics on this port alone (same bind address as MQTT; the dashboard serves them too)',
  }),
  bridges: object<BridgeSpec[], 'startBroker'>(
    'Bridges',
    { consumer: 'startBroker', help: 'MQTT bridges to other brokers; TLS paths relative to the config file' },
    (value, { where, dir }) => parseBridgeSpecs(value, where, dir),
  ),
  cluster: {
    // A nested structure in the config file; on the command line just the NATS server URLs.
    ...object<ClusterSpec, 'startBroker'>(
      'Cluster (preview)',
      {
        consumer: 'startBroker',
        help: 'join other nodes as one broker over NATS JetStream: the NATS server URLs (servers, name, node, credentials, TLS in the config file)',
      },
      (value, { where, dir }) => parseClusterSpec(value, where, dir),
    ),
    cli: true,
    arg: '<urls>',
    fromArg: (arg: string): ClusterSpec => {
      try {
        return clusterSpecFromArg(arg)
      } catch (error) {
        throw new InvalidArgumentError((error as Error).message)
      }
    },
  },
} satisfies Record<string, Setting<unknown>>

type Table = typeof settings
export type SettingName = keyof Table
type ValueOf<S> = S extends Setting<infer T, Consumer> ? T : never
type ConsumerOf<S> = S extends Setting<unknown, infer C> ? C : never
/** The names of the settings a consumer takes. */
export type NamesFor<C extends Consumer> = {
  [K in SettingName]: ConsumerOf<Table[K]> extends C ? K : never
}[SettingName]

/** Every setting, all optional: what the command line and the config file give. */
export type Settings = { [K in SettingName]?: ValueOf<Table[K]> | undefined }
/** What a config file may hold: every setting but the command line's own. */
export type FileSettings = Omit<Settings, NamesFor<'cli'>>

export const settingNames = Object.keys(settings) as SettingName[]

export function namesFor<C extends Consumer>(...consumers: C[]): NamesFor<C>[] {
  return settingNames.filter((name): name is NamesFor<C> =>
    (consumers as readonly Consumer[]).includes(settings[name].consumer),
  )
}

export function pick<K extends SettingName>(values: Settings, names: readonly K[]): Pick<Settings, K> {
  const picked: Settings = {}
  for (const name of names) {
    if (values[name] !== undefined) Object.assign(picked, { [name]: values[name] })
  }
  return picked
}
