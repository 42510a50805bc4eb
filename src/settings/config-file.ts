// The config file's settings checked against the table, and the startBroker options that the
// command line's and config file's settings become.
import type { ListenerShorthands } from '../listeners/config.ts'
import { listenersFromShorthands } from '../listeners/config.ts'
import { type Location, locationOf } from '../scripting/location.ts'
import type { StartOptions } from '../start-options.ts'
import type { Setting } from './kinds.ts'
import {
  type FileSettings,
  type NamesFor,
  namesFor,
  pick,
  type SettingName,
  settingNames,
  settings,
} from './table.ts'

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
