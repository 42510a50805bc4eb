// Globals available to tinymqtt scripts. Referenced by jsconfig.json so editors
// (VS Code) complete and check them in plain .js files.

/** What a subscription callback gets besides topic and payload. */
interface MsMessage {
  /** QoS the message was published with. */
  qos: 0 | 1 | 2
  /** True when this is a retained message delivered because the script subscribed. */
  retain: boolean
  /** The payload exactly as published. */
  bytes: Uint8Array
  /** Client id of the publisher when it was an MQTT client. */
  clientId?: string
  /** MQTT 5 properties, when the message has any. */
  properties?: MsProperties
}

/** MQTT 5 PUBLISH properties (the names MQTT.js uses). */
interface MsProperties {
  payloadFormatIndicator?: boolean
  /** Seconds the message stays deliverable; on a received message, what is left of it. */
  messageExpiryInterval?: number
  contentType?: string
  responseTopic?: string
  /** Bytes; ms_publish also takes a string. */
  correlationData?: Uint8Array
  userProperties?: Record<string, string | string[]>
}

/** Anything ms_publish can send; objects and arrays are sent as JSON. */
type MsPayload = string | number | boolean | Uint8Array | ArrayBuffer | object | null | undefined

interface MsPublishOptions {
  qos?: 0 | 1 | 2
  retain?: boolean
  properties?: Omit<MsProperties, 'correlationData'> & { correlationData?: Uint8Array | ArrayBuffer | string }
}

interface MsSubscribeOptions {
  /**
   * Call back only when a topic's payload differs from the last one this subscription saw on
   * that topic (the first message on a topic counts as a change), so a mirror that echoes a
   * state back does not loop. Up to 1000 topics are remembered per subscription.
   */
  changes?: boolean
}

/**
 * Subscribes like an MQTT client: `+` and `#` wildcards; topics starting with `$` are not
 * matched by a leading wildcard. Matching retained messages are delivered right away.
 * @returns an id for ms_unsubscribe
 */
declare function ms_subscribe(
  filter: string,
  callback: (topic: string, payload: string, msg: MsMessage) => void,
  options?: MsSubscribeOptions,
): number
/** Ends a subscription; returns false when the id was not active. */
declare function ms_unsubscribe(id: number): boolean
/** Publishes to MQTT clients and scripts (including this one), after the current callback returns. */
declare function ms_publish(topic: string, payload?: MsPayload, options?: MsPublishOptions): void
/** Sets the broker's single user name (new connections). */
declare function ms_user(user: string): void
/** Sets the broker's single user's password (new connections). */
declare function ms_pass(pass: string): void
/** Moves the MQTT listener; connected clients stay. Throws when the port cannot be bound. */
declare function ms_port(port: number): void

/** The last message published on a topic, as ms_get returns it. */
interface MsLastValue {
  /** The payload as a UTF-8 string. */
  payload: string
  /** The payload exactly as published. */
  bytes: Uint8Array
  qos: 0 | 1 | 2
  /** True when it was published with the retain flag. */
  retain: boolean
  /** When it was published (ms since the epoch); the broker's start for a retained message from before it. */
  at: number
}

/**
 * The last message published on exactly this topic (no wildcards) since the broker started,
 * by an MQTT client or a script, retained or not, or a retained message from before the start.
 * Undefined when there is none, or when the topic was dropped from the broker's cache of
 * `lastValues` topics (least recently published first). A publish of this script's own is seen
 * from the next callback on, since ms_publish sends after the current callback returns.
 */
declare function ms_get(topic: string): MsLastValue | undefined

/**
 * Remembered state, like Berry's `persist`: set any JSON-serialisable properties. Changes are
 * saved (under this script's file name) within about 300 ms of the call that made them, and
 * when the script is unloaded or the broker stops; the object itself cannot be replaced.
 */
// biome-ignore lint/suspicious/noExplicitAny: a script stores whatever it likes; any keeps checkJs quiet about it
declare const persist: Record<string, any>

interface MsFetchOptions {
  /** Default 'GET'. */
  method?: string
  headers?: Record<string, string>
  /** A plain object is sent as JSON with content-type application/json. */
  body?: string | Uint8Array | ArrayBuffer | object
  /** From the request's start to the body's last byte; default 10000 (the `fetchTimeoutMs` option). */
  timeoutMs?: number
}

interface MsFetchResponse {
  status: number
  /** True for a 2xx status. */
  ok: boolean
  statusText: string
  /** Lower-case header names. */
  headers: Record<string, string>
  /** The body as UTF-8 text. */
  text: string
  /** Parses `text`; throws a SyntaxError on invalid JSON. */
  json(): unknown
}

/**
 * An HTTP or HTTPS request made by the broker's scripting worker. A non-2xx status resolves
 * with `ok: false`; a timeout, an oversize response (default 1 MiB), a network error or a
 * non-http(s) URL rejects. At most 8 requests per script run at once; more wait.
 */
declare function ms_fetch(url: string, options?: MsFetchOptions): Promise<MsFetchResponse>

/** A sun event, optionally shifted: `'sunset'`, `'sunset+15m'`, `'sunrise-1h30m'`. */
type MsSunEvent = 'sunrise' | 'sunset' | 'dawn' | 'dusk' | 'solarNoon'
/**
 * Runs `callback` on a schedule until ms_unschedule or until the script is unloaded or reloaded.
 * `spec` is a cron expression in the broker's local time zone (`TZ`) — 5 fields
 * (`'30 7 * * MON-FRI'`) or 6 with seconds first (`'*\/5 * * * * *'`) — or a sun event
 * (`'sunset'`, `'sunrise-1h30m'`, `'dusk+10m'`; needs the broker's `--latitude`/`--longitude`).
 * The callback gets the scheduled time in epoch milliseconds. Counts against the timer limit.
 * Throws when the spec is invalid, a sun event is used without a location, or the limit is reached.
 * @returns an id for ms_unschedule and ms_next
 */
declare function ms_schedule(spec: MsSunEvent | (string & {}), callback: (at: number) => void): number
/** Ends a schedule; returns false when the id was not active. */
declare function ms_unschedule(id: number): boolean
/** The schedule's next run in epoch milliseconds; undefined when the id is not active or no run is left. */
declare function ms_next(id: number): number | undefined

/** Writes the arguments to the broker log, tagged with this script's file name. */
declare function print(...args: unknown[]): void
declare const console: {
  log(...args: unknown[]): void
  info(...args: unknown[]): void
  debug(...args: unknown[]): void
  warn(...args: unknown[]): void
  error(...args: unknown[]): void
}

/** `ms` may be any length: past 24.8 days it still fires when due; `Infinity` never fires. */
declare function setTimeout<A extends unknown[]>(
  callback: (...args: A) => void,
  ms?: number,
  ...args: A
): number
/** `ms` may be any length (at least 1 ms between runs); `Infinity` never runs. */
declare function setInterval<A extends unknown[]>(
  callback: (...args: A) => void,
  ms?: number,
  ...args: A
): number
declare function clearTimeout(id: number | undefined): void
declare function clearInterval(id: number | undefined): void
