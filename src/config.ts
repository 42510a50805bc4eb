import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { StartOptions } from './index.ts'
import { defaultSysInterval } from './ops/monitoring.ts'
import {
  defaultDataDir,
  defaultScript,
  type FileSettings,
  type Settings,
  settingsFromFile,
  startOptionsOf,
} from './settings/index.ts'

/** The settings a config file may hold: the command line's, in JSON, with the same names (src/settings/table.ts). */
export type FileConfig = FileSettings

/** Reads a JSON config file; unknown keys and wrong types are errors that name the file and the key. */
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
  return settingsFromFile(parsed as Record<string, unknown>, `config file ${path}`, dirname(path))
}

/**
 * The startBroker options of the command line: its flags over the config file they name over
 * the defaults. Called at start and again on SIGHUP (src/ops/reload.ts), so both read the
 * config file the same way; rejects naming the file and the key when it is broken.
 */
export async function startOptionsFromCommandLine(flags: Settings): Promise<StartOptions> {
  const { config: configPath, ...given } = flags
  const fromFile = configPath ? await readConfigFile(configPath) : {}
  const settings: FileConfig = { ...fromFile, ...given }
  if (settings.scripts === undefined && existsSync(defaultScript)) settings.scripts = defaultScript
  // The default data directory is the CLI's: embedders (and tests) stay in memory unless they say.
  if (!settings.memory) settings.data ??= defaultDataDir
  // $SYS as Mosquitto has it, for the broker run as a service; embedders ask for it.
  settings.sysInterval ??= defaultSysInterval
  return startOptionsOf(settings)
}
