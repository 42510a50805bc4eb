import type { MessageProperties, QoS } from '../broker/types.ts'
import { formatScriptError, type ScriptError } from '../scripting/error-location.ts'
import type { ScriptingOptions } from '../scripting/options.ts'
import type { LogLevel } from '../scripting/protocol.ts'
import type { FetchCall, FetchHandler } from './fake-fetch.ts'

/* The public face of `tinymqtt/testing`: what loadScript takes and what it returns. */

/** The limits a test may set; each defaults to the broker's default (see ScriptingOptions). */
export type ScriptLimitOptions = Omit<
  ScriptingOptions,
  'path' | 'latitude' | 'longitude' | 'reloadDebounceMs' | 'watch' | 'statusHoldMs'
>

export interface LoadScriptOptions {
  /** Where the fake clock starts: an ISO 8601 string, a Date or epoch ms. Default: the real time now. */
  now?: string | number | Date
  /** The broker's location for sun-event schedules, as --latitude/--longitude; both or neither. */
  latitude?: number
  longitude?: number
  /** The saved `persist` the script starts from, as if an earlier run had saved it. */
  persist?: Record<string, unknown>
  /** Retained messages the broker holds before the script loads: topic → payload. */
  retained?: Record<string, string | Uint8Array>
  /** Answers ms_fetch requests from the start; see LoadedScript.onFetch. */
  onFetch?: FetchHandler
  /** The per-script limits, as in the broker's scripting options. */
  limits?: ScriptLimitOptions
}

/** A payload as a test publishes it; objects other than bytes are sent as JSON. */
export type TestPayload = string | Uint8Array | number | boolean | object | null | undefined

export interface TestPublishOptions {
  qos?: QoS
  retain?: boolean
  /** The publishing client's id (`msg.clientId` in the script). Default 'test-client'; undefined: published by the broker itself. */
  clientId?: string | undefined
  properties?: MessageProperties
}

/** A message the script published, in the order it went out. */
export interface PublishedMessage {
  topic: string
  /** The payload as UTF-8 text. */
  payload: string
  bytes: Uint8Array
  qos: QoS
  retain: boolean
  properties?: MessageProperties | undefined
}

export interface LogLine {
  level: LogLevel
  text: string
}

/** An error of the script: thrown by its top level, a callback, a timer, a limit … */
export interface ScriptErrorEntry extends ScriptError {
  /** `file:line:column`, or the file name when the error had no location. */
  where: string
  message: string
  /** The log line it was reported with. */
  text: string
}

/** What ms_get would answer for a topic. */
export interface LastValueInfo {
  payload: string
  bytes: Uint8Array
  qos: QoS
  retain: boolean
  at: number
}

/** The script did not load (its top level or init() failed); `scriptError` says where. */
export class ScriptLoadError extends Error {
  constructor(readonly scriptError: ScriptError) {
    super(`${formatScriptError(scriptError)} (script not loaded)`)
    this.name = 'ScriptLoadError'
  }
}

/** A script under test, as `loadScript` returns it. */
export interface LoadedScript {
  /** The script's file name, as in its error locations. */
  readonly name: string
  /** Absolute path of the file. */
  readonly file: string
  /** Everything the script published, in order (its deinit's publishes too). */
  readonly published: PublishedMessage[]
  /** Returns `published` and empties it. */
  take(): PublishedMessage[]
  /**
   * Publishes as an MQTT client would: the script's matching subscriptions have run when this
   * returns; the promise resolves once ms_fetch answers it caused are handled too.
   */
  publish(topic: string, payload?: TestPayload, options?: TestPublishOptions): Promise<void>
  /** Moves the fake clock forward, firing due timers and schedules in time order. */
  advance(duration: string | number): Promise<void>
  /** Waits until answered ms_fetch requests, and what they cause, have been handled. */
  settle(): Promise<void>
  /** The fake clock's time, ms since the epoch. */
  readonly now: number
  /** `persist` as it would be saved now (parsed JSON); undefined when never saved. */
  readonly persist: Record<string, unknown> | undefined
  /** Every log line: print, console.*, errors, limit and throttle reports. */
  readonly logs: LogLine[]
  /** The script's errors, each with `file:line:column` in `where`. */
  readonly errors: ScriptErrorEntry[]
  /** Every ms_fetch request, answered or pending (answer with `respond`). */
  readonly fetches: FetchCall[]
  /** Answers ms_fetch requests from now on; return undefined to leave one pending. */
  onFetch(handler: FetchHandler | undefined): void
  /** What `ms_get(topic)` would answer now. */
  lastValue(topic: string): LastValueInfo | undefined
  /** Filters the running version is subscribed to. */
  readonly subscriptions: string[]
  /** Live timers and schedules of the running version. */
  readonly timers: number
  /** False after close(), or when the VM crashed. */
  readonly running: boolean
  /** Loads the file again with hot-reload semantics; throws a ScriptLoadError when the new version fails (the old one keeps running). */
  reload(): Promise<void>
  /** Runs deinit() and disposes the VM. */
  close(): Promise<void>
}
