import { readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { type BridgeSpec, parseBridgeSpecs } from './bridge/index.ts'
import type { StartOptions } from './index.ts'
import { type ListenerShorthands, parseListenerSpecs } from './listeners/config.ts'
import type { ListenerSpec } from './listeners/types.ts'

/** The settings a config file may hold: the CLI's, in JSON, with the same names. */
export interface FileConfig extends ListenerShorthands {
  port?: number
  host?: string
  user?: string
  pass?: string
  scripts?: string
  logLevel?: string
  maxPacketSize?: number
  maxInflight?: number
  maxQueuedMessages?: number
  stallTimeout?: number
  connectTimeout?: number
  passwordFile?: string
  aclFile?: string
  /** Data directory of the durable store (the CLI defaults it to ./tinymqtt-data). */
  data?: string
  /** Keep everything in memory: no data directory. */
  memory?: boolean
  /** Any number of extra listeners (tcp, tls, ws, wss); see src/listeners/types.ts. */
  listeners?: ListenerSpec[]
  /** HTTP port of the web dashboard (off when unset). */
  http?: number
  /** The dashboard's own user and password (they allow editing scripts from it). */
  httpUser?: string
  httpPass?: string
  /** Host names a loopback dashboard without a password answers to besides localhost. */
  httpAllowedHosts?: string[]
  /** Topics in the last-value cache (ms_get, broker.lastValue); see BrokerOptions.lastValues. */
  lastValues?: number
  /** The broker's location in degrees, for sun-event schedules in scripts; both or neither. */
  latitude?: number
  longitude?: number
  /** MQTT bridges (README "Bridges"); TLS file paths are relative to the config file. */
  bridges?: BridgeSpec[]
}

const numberKeys = [
  'port',
  'maxPacketSize',
  'maxInflight',
  'maxQueuedMessages',
  'stallTimeout',
  'connectTimeout',
  'tlsPort',
  'wsPort',
  'wssPort',
  'http',
  'lastValues',
] as const
const stringKeys = [
  'host',
  'user',
  'pass',
  'scripts',
  'logLevel',
  'passwordFile',
  'aclFile',
  'data',
  'cert',
  'key',
  'ca',
  'httpUser',
  'httpPass',
] as const

/** Reads a JSON config file; unknown keys and wrong types are errors that name the key. */
export async function readConfigFile(path: string): Promise<FileConfig> {
  let parsed: unknown
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'))
  } catch (error) {
    throw new Error(
      `cannot read config file ${path}: ${error instanceof Error ? error.message : String(error)}`,
    )
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`config file ${path}: expected a JSON object`)
  }
  const config: FileConfig = {}
  for (const [key, value] of Object.entries(parsed)) {
    if (key === 'bridges') {
      config.bridges = parseBridgeSpecs(value, `config file ${path}`, dirname(path))
    } else if (key === 'listeners') {
      config.listeners = parseListenerSpecs(value, `config file ${path}`)
    } else if (key === 'httpAllowedHosts') {
      if (!Array.isArray(value) || !value.every((h) => typeof h === 'string')) {
        throw new Error(`config file ${path}: "${key}" must be an array of host names`)
      }
      config.httpAllowedHosts = value
    } else if (key === 'useIdentityAsUsername' || key === 'memory') {
      if (typeof value !== 'boolean') throw new Error(`config file ${path}: "${key}" must be true or false`)
      config[key] = value
    } else if (key === 'latitude' || key === 'longitude') {
      const limit = key === 'latitude' ? 90 : 180
      if (typeof value !== 'number' || !Number.isFinite(value) || Math.abs(value) > limit) {
        throw new Error(
          `config file ${path}: "${key}" must be a number of degrees from -${limit} to ${limit}`,
        )
      }
      config[key] = value
    } else if ((numberKeys as readonly string[]).includes(key)) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
        throw new Error(`config file ${path}: "${key}" must be a non-negative integer`)
      }
      config[key as (typeof numberKeys)[number]] = value
    } else if ((stringKeys as readonly string[]).includes(key)) {
      if (typeof value !== 'string') throw new Error(`config file ${path}: "${key}" must be a string`)
      config[key as (typeof stringKeys)[number]] = value
    } else {
      throw new Error(`config file ${path}: unknown setting "${key}"`)
    }
  }
  return config
}

export type CliConfig = FileConfig & Pick<StartOptions, 'logLevel'>
