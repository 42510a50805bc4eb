import { readFile } from 'node:fs/promises'
import type { StartOptions } from './index.ts'

/** The settings a config file may hold: the CLI's, in JSON, with the same names. */
export interface FileConfig {
  port?: number
  host?: string
  user?: string
  pass?: string
  scripts?: string
  logLevel?: string
  maxPacketSize?: number
  maxInflight?: number
  maxQueuedMessages?: number
  connectTimeout?: number
}

const numberKeys = ['port', 'maxPacketSize', 'maxInflight', 'maxQueuedMessages', 'connectTimeout'] as const
const stringKeys = ['host', 'user', 'pass', 'scripts', 'logLevel'] as const

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
    if ((numberKeys as readonly string[]).includes(key)) {
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
