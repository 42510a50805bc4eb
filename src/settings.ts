/**
 * Every setting of the broker, declared once. Each row of `settings` below is one setting: its
 * name (the config-file key, and the `startBroker` option of the same name), its value kind,
 * its command-line flag, its documented default, its help text and the part that consumes it.
 * From the table derive:
 *
 * - the command-line options and their `--help` text (`addSettingOptions`; the long flag is the
 *   name in kebab case, so `maxKeepalive` is `--max-keepalive`);
 * - the config file's validation (`settingsFromFile`: an unknown key, or a value of the wrong
 *   kind, stops start-up with a message naming the file and the key);
 * - the `startBroker` options the command line starts the broker with (`startOptionsOf`), whose
 *   types are checked against `StartOptions` at compile time;
 * - the README's settings table (`settingsTable`, printed by `scripts/settings-table.ts`;
 *   test/settings-table.test.ts fails when README.md differs from it).
 *
 * Precedence: the command line over the config file over the defaults. The defaults are applied
 * by the consumers (the broker's `brokerDefaults`, the scripting host …); a row's `default` is
 * what --help and the README show, taken from those constants where there is one.
 *
 * Adding a setting:
 * 1. add the option where it is consumed, e.g. `sysInterval?: number` in BrokerOptions
 *    (src/broker/types.ts), with its default in `brokerDefaults`;
 * 2. add one row here, e.g.
 *      sysInterval: int({ consumer: 'broker', arg: '<s>', default: brokerDefaults.sysInterval,
 *                         help: 'seconds between $SYS updates (0: off)' }),
 *    (`consumer: 'startBroker'` for an option of StartOptions itself, such as `metricsPort`;
 *    `cli: false` for a config-file-only setting; `object(...)` for nested structures);
 * 3. run `node --import tsx scripts/settings-table.ts --write` to update README.md.
 * The command line, the config file, --help and the README follow; `npx tsc` says if the row's
 * type disagrees with the consumer's option.
 */
import { Command, InvalidArgumentError, Option } from 'commander'
import { type BridgeSpec, parseBridgeSpecs } from './bridge/config.ts'
import { brokerDefaults } from './broker/broker-options.ts'
import { defaultLastValues } from './broker/last-values.ts'
import { type ClusterSpec, clusterSpecFromArg, parseClusterSpec } from './cluster/config.ts'
import type { StartOptions } from './index.ts'
import { type ListenerShorthands, listenersFromShorthands, parseListenerSpecs } from './listeners/config.ts'
import type { ListenerSpec } from './listeners/types.ts'
import { type Location, locationOf } from './scripting/location.ts'

/**
 * Who takes the setting: `broker` (a BrokerOptions option, passed on by startBroker),
 * `startBroker` (an option of StartOptions itself), `listeners` (the command line's
 * single-listener shorthands, turned into `listeners` entries), `scripting` (the scripting
 * host's options, in `scripts`), `cli` (the command line alone; not in the config file).
 */
export type Consumer = 'broker' | 'startBroker' | 'listeners' | 'scripting' | 'cli'

/** The kind of a setting's value: what is checked, and what the README shows. */
export type Kind =
  | { readonly type: 'int'; readonly min: number; readonly max?: number | undefined }
  | { readonly type: 'number'; readonly min: number; readonly max: number; readonly unit: string }
  | { readonly type: 'string' }
  | { readonly type: 'path' }
  | { readonly type: 'boolean' }
  | { readonly type: 'enum'; readonly values: readonly string[] }
  | { readonly type: 'list'; readonly of: string }
  /** A nested structure, config file (and startBroker) only, documented in a README section. */
  | { readonly type: 'object'; readonly section: string }

/** Where a config-file value comes from, for messages and relative paths. */
export interface FileContext {
  /** `config file <path>`: the start of every message. */
  where: string
  /** The config file's folder. */
  dir: string
}

export interface Setting<T, C extends Consumer = Consumer> {
  readonly kind: Kind
  readonly consumer: C
  readonly help: string
  /** The default as --help and the README show it (the consumer applies it). */
  readonly default?: string | undefined
  /** One-letter alias on the command line (`p` for `-p`). */
  readonly short?: string | undefined
  /** The flag's argument placeholder (`<n>`); none for a boolean. */
  readonly arg?: string | undefined
  /** Has a command-line flag. */
  readonly cli: boolean
  /** Accepted in the config file. */
  readonly file: boolean
  /** Checks a config-file value; throws naming the file and the key. */
  readonly fromFile: (value: unknown, key: string, context: FileContext) => T
  /** Parses a command-line argument; throws commander's InvalidArgumentError. */
  readonly fromArg: (arg: string) => T
}

interface Row<C extends Consumer> {
  consumer: C
  help: string
  default?: string | number | undefined
  short?: string
  arg?: string
  /** false: config file (and startBroker) only. */
  cli?: boolean
}

/** "a non-negative integer", "an integer from 1 to 65535" …: what a value must be. */
export function expected(kind: Kind): string {
  switch (kind.type) {
    case 'int':
      if (kind.max !== undefined) return `an integer from ${kind.min} to ${kind.max}`
      return kind.min === 0 ? 'a non-negative integer' : `an integer of at least ${kind.min}`
    case 'number':
      return `a number of ${kind.unit} from ${kind.min} to ${kind.max}`
    case 'string':
    case 'path':
      return 'a string'
    case 'boolean':
      return 'true or false'
    case 'enum':
      return `one of ${kind.values.join(', ')}`
    case 'list':
      return `an array of ${kind.of}`
    case 'object':
      return `an object (README "${kind.section}")`
  }
}

function scalar<T, C extends Consumer>(
  kind: Kind,
  row: Row<C>,
  valid: (value: unknown) => value is T,
  parse: (arg: string) => unknown,
): Setting<T, C> {
  return {
    kind,
    consumer: row.consumer,
    help: row.help,
    default: row.default === undefined ? undefined : String(row.default),
    short: row.short,
    arg: kind.type === 'boolean' ? undefined : (row.arg ?? '<value>'),
    cli: row.cli ?? true,
    file: row.consumer !== 'cli',
    fromFile: (value, key, { where }) => {
      if (!valid(value)) throw new Error(`${where}: "${key}" must be ${expected(kind)}`)
      return value
    },
    fromArg: (arg) => {
      const value = parse(arg)
      if (!valid(value)) throw new InvalidArgumentError(`not ${expected(kind)}`)
      return value
    },
  }
}

/** Number(' ') is 0; a blank argument is no number. */
const numeric = (arg: string): number => (arg.trim() === '' ? Number.NaN : Number(arg))

function int<C extends Consumer>(row: Row<C> & { min?: number; max?: number }): Setting<number, C> {
  const kind = { type: 'int', min: row.min ?? 0, max: row.max } as const
  const valid = (v: unknown): v is number =>
    typeof v === 'number' && Number.isInteger(v) && v >= kind.min && (kind.max === undefined || v <= kind.max)
  return scalar(kind, { arg: '<n>', ...row }, valid, numeric)
}

function degrees<C extends Consumer>(limit: number, row: Row<C>): Setting<number, C> {
  const kind = { type: 'number', min: -limit, max: limit, unit: 'degrees' } as const
  const valid = (v: unknown): v is number =>
    typeof v === 'number' && Number.isFinite(v) && Math.abs(v) <= limit
  return scalar(kind, { arg: '<deg>', ...row }, valid, numeric)
}

const isString = (v: unknown): v is string => typeof v === 'string'

function string<C extends Consumer>(row: Row<C>): Setting<string, C> {
  return scalar({ type: 'string' }, row, isString, (arg) => arg)
}

function path<C extends Consumer>(row: Row<C>): Setting<string, C> {
  return scalar({ type: 'path' }, { arg: '<file>', ...row }, isString, (arg) => arg)
}

function boolean<C extends Consumer>(row: Row<C>): Setting<boolean, C> {
  const valid = (v: unknown): v is boolean => typeof v === 'boolean'
  // Commander sets a flag without an argument to true itself; parse is never called.
  return scalar({ type: 'boolean' }, row, valid, () => true)
}

function oneOf<const V extends string, C extends Consumer>(values: readonly V[], row: Row<C>): Setting<V, C> {
  const valid = (v: unknown): v is V => typeof v === 'string' && (values as readonly string[]).includes(v)
  return scalar({ type: 'enum', values }, row, valid, (arg) => arg)
}

/** A list of strings: an array in the config file, comma-separated on the command line. */
function list<C extends Consumer>(of: string, row: Row<C>): Setting<string[], C> {
  const valid = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString)
  const split = (arg: string): string[] =>
    arg
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
  return scalar({ type: 'list', of }, { arg: '<list>', ...row }, valid, split)
}

/** A nested structure, config file (and startBroker) only, checked by its own parser. */
function object<T, C extends Consumer>(
  section: string,
  row: Row<C>,
  parse: (value: unknown, context: FileContext) => T,
): Setting<T, C> {
  const kind = { type: 'object', section } as const
  return {
    kind,
    consumer: row.consumer,
    help: row.help,
    default: row.default === undefined ? undefined : String(row.default),
    cli: false,
    file: true,
    fromFile: (value, _key, context) => parse(value, context),
    fromArg: () => {
      throw new InvalidArgumentError(`not ${expected(kind)}`)
    },
  }
}

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

function namesFor<C extends Consumer>(...consumers: C[]): NamesFor<C>[] {
  return settingNames.filter((name): name is NamesFor<C> =>
    (consumers as readonly Consumer[]).includes(settings[name].consumer),
  )
}

function pick<K extends SettingName>(values: Settings, names: readonly K[]): Pick<Settings, K> {
  const picked: Settings = {}
  for (const name of names) {
    if (values[name] !== undefined) Object.assign(picked, { [name]: values[name] })
  }
  return picked
}

// ---------------------------------------------------------------------------------------------
// The command line

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
}

/** `-p, --port <n>`: the flags of a setting's command-line option. */
export function flagsOf(name: SettingName): string {
  const s: Setting<unknown> = settings[name]
  const short = s.short === undefined ? '' : `-${s.short}, `
  return `${short}--${kebab(name)}${s.arg === undefined ? '' : ` ${s.arg}`}`
}

/** A setting's --help line: its help, the choices of an enum, the default. */
function helpText(s: Setting<unknown>): string {
  const text =
    s.kind.type === 'enum'
      ? `${s.help}: ${s.kind.values.join(', ')}`
      : s.kind.type === 'list'
        ? `${s.help} (comma-separated)`
        : s.help
  if (s.default === undefined) return text
  return text.endsWith(')') ? `${text.slice(0, -1)}; default ${s.default})` : `${text} (default ${s.default})`
}

/** The command-line option of every setting that has one, in the table's order. */
export function addSettingOptions(command: Command): Command {
  for (const name of settingNames) {
    const s: Setting<unknown> = settings[name]
    if (!s.cli) continue
    const option = new Option(flagsOf(name), helpText(s))
    if (s.arg !== undefined) option.argParser((arg: string) => s.fromArg(arg))
    command.addOption(option)
  }
  return command
}

/** The settings given on the command line (the ones not given are absent). */
export function settingsFromCommand(command: Command): Settings {
  return pick(command.opts<Settings>(), settingNames)
}

// ---------------------------------------------------------------------------------------------
// The config file

/** A setting whose name differs from `key` only in case, dashes or underscores. */
function nearest(key: string): string | undefined {
  const plain = (s: string): string => s.toLowerCase().replace(/[-_]/g, '')
  return settingNames.find((name) => settings[name].file && plain(name) === plain(key))
}

/**
 * Checks a config file's parsed JSON object against the table. `where` starts every message
 * (`config file <path>`); `dir` is the file's folder, for relative paths.
 */
export function settingsFromFile(parsed: Record<string, unknown>, where: string, dir: string): FileSettings {
  const config: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(parsed)) {
    const s: Setting<unknown> | undefined = Object.hasOwn(settings, key)
      ? settings[key as SettingName]
      : undefined
    if (s === undefined) {
      const near = nearest(key)
      const hint = near === undefined ? ' (README "Settings" lists them)' : `; did you mean "${near}"?`
      throw new Error(`${where}: unknown setting "${key}"${hint}`)
    }
    if (!s.file) throw new Error(`${where}: "${key}" is a command-line option, not a config-file setting`)
    config[key] = s.fromFile(value, key, { where, dir })
  }
  return config as FileSettings
}

// ---------------------------------------------------------------------------------------------
// startBroker

/** Settings passed to startBroker under their own name (compile-time checked against StartOptions). */
type DirectName = NamesFor<'broker' | 'startBroker'>
const directNames = namesFor('broker', 'startBroker')
const shorthandNames = namesFor('listeners')
const scriptingNames = namesFor('scripting')

/**
 * The startBroker options for the command line's and config file's settings: the broker's and
 * startBroker's own by name, the listener shorthands added to `listeners`, the location put
 * into the scripting options. Throws when the location or a shorthand listener is incomplete.
 */
export function startOptionsOf(values: FileSettings): StartOptions {
  // Each annotation fails to compile when a row's type disagrees with the option it feeds.
  const direct: Pick<StartOptions, DirectName> = pick(values, directNames)
  const shorthands: Pick<ListenerShorthands, NamesFor<'listeners'>> = pick(values, shorthandNames)
  const place: Partial<Pick<Location, NamesFor<'scripting'>>> = pick(values, scriptingNames)
  // The location is the scripting host's (sun-event schedules); checked even without scripts.
  const location = locationOf(place.latitude, place.longitude)
  const scripts =
    location && values.scripts !== undefined ? { path: values.scripts, ...location } : values.scripts
  const listeners = [...(values.listeners ?? []), ...listenersFromShorthands(shorthands)]
  return { ...direct, scripts, listeners }
}

// ---------------------------------------------------------------------------------------------
// The README

export const tableStart = '<!-- settings:start -->'
export const tableEnd = '<!-- settings:end -->'

function kindText(kind: Kind): string {
  switch (kind.type) {
    case 'int':
      if (kind.max !== undefined) return `integer ${kind.min}–${kind.max}`
      return `integer ≥ ${kind.min}`
    case 'number':
      return `number of ${kind.unit}, ${kind.min} to ${kind.max}`
    case 'enum':
      return kind.values.map((v) => `\`${v}\``).join(', ')
    case 'list':
      return `array of ${kind.of} (command line: comma-separated)`
    case 'object':
      return `object, see [${kind.section}](#${anchor(kind.section)})`
    default:
      return kind.type
  }
}

/** The link anchor GitHub gives a heading: lower case, punctuation dropped, spaces as dashes. */
function anchor(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, '')
    .replace(/ /g, '-')
}

function startBrokerText(name: SettingName, consumer: Consumer): string {
  switch (consumer) {
    case 'broker':
    case 'startBroker':
      return `\`${name}\``
    case 'listeners':
      return 'via `listeners`'
    case 'scripting':
      return `\`scripts: { path, ${name} }\``
    case 'cli':
      return '—'
  }
}

const cell = (text: string): string => text.replace(/\|/g, '\\|')

/** The README's markdown table of every setting (without the markers). */
export function settingsTable(): string {
  const lines = [
    '| Setting (config file) | Command line | `startBroker` | Kind | Default | Description |',
    '| --- | --- | --- | --- | --- | --- |',
  ]
  for (const name of settingNames) {
    const s: Setting<unknown> = settings[name]
    const row = [
      s.file ? `\`${name}\`` : '— (command line only)',
      s.cli ? `\`${flagsOf(name)}\`` : '— (config file only)',
      startBrokerText(name, s.consumer),
      kindText(s.kind),
      s.default ?? '—',
      s.help,
    ]
    lines.push(`| ${row.map(cell).join(' | ')} |`)
  }
  return `${lines.join('\n')}\n`
}

/** For tests and scripts: a fresh command with just the settings' options. */
export function settingsCommand(): Command {
  return addSettingOptions(new Command().exitOverride())
}
