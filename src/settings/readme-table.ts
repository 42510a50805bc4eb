// The README's settings table, generated from the table (scripts/settings-table.ts writes it;
// test/settings-table.test.ts fails when README.md differs).
import { flagsOf } from './command-line.ts'
import type { Consumer, Kind, Setting } from './kinds.ts'
import { type SettingName, settingNames, settings } from './table.ts'

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
