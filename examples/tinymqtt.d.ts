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

/**
 * Subscribes like an MQTT client: `+` and `#` wildcards; topics starting with `$` are not
 * matched by a leading wildcard. Matching retained messages are delivered right away.
 * @returns an id for ms_unsubscribe
 */
declare function ms_subscribe(
  filter: string,
  callback: (topic: string, payload: string, msg: MsMessage) => void,
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

declare function setTimeout<A extends unknown[]>(
  callback: (...args: A) => void,
  ms?: number,
  ...args: A
): number
declare function setInterval<A extends unknown[]>(
  callback: (...args: A) => void,
  ms?: number,
  ...args: A
): number
declare function clearTimeout(id: number | undefined): void
declare function clearInterval(id: number | undefined): void
