// The command line: one option per setting that has one, its --help text, and the values given.
import { Command, Option } from 'commander'
import type { Setting } from './kinds.ts'
import { pick, type SettingName, type Settings, settingNames, settings } from './table.ts'

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

/** For tests and scripts: a fresh command with just the settings' options. */
export function settingsCommand(): Command {
  return addSettingOptions(new Command().exitOverride())
}
