// Prints the README's settings table, generated from src/settings.ts; with --write, puts it into
// README.md between the settings markers. test/settings-table.test.ts fails when they differ.
//   node --import tsx scripts/settings-table.ts [--write]
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { settingsTable, tableEnd, tableStart } from '../src/settings/index.ts'

const table = settingsTable()
if (process.argv.includes('--write')) {
  const readme = join(import.meta.dirname, '..', 'README.md')
  const text = readFileSync(readme, 'utf8')
  const start = text.indexOf(tableStart)
  const end = text.indexOf(tableEnd)
  if (start < 0 || end < start) throw new Error(`README.md has no ${tableStart} … ${tableEnd} markers`)
  writeFileSync(readme, `${text.slice(0, start + tableStart.length)}\n${table}${text.slice(end)}`)
} else {
  process.stdout.write(table)
}
