import { readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { type FileSettings, settingsFromFile } from './settings.ts'

/** The settings a config file may hold: the command line's, in JSON, with the same names (src/settings.ts). */
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
