// Every setting in one table (src/settings.ts): the README's table is the generated one, and the
// command line's options are the table's rows.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { Option } from 'commander'
import {
  flagsOf,
  settingNames,
  settings,
  settingsCommand,
  settingsFromFile,
  settingsTable,
  tableEnd,
  tableStart,
} from '../src/settings/index.ts'
import { defined } from './defined.ts'

const README = join(import.meta.dirname, '..', 'README.md')

test('README.md holds exactly the generated settings table between the markers', () => {
  const readme = readFileSync(README, 'utf8')
  const start = readme.indexOf(tableStart)
  const end = readme.indexOf(tableEnd)
  assert.ok(start >= 0 && end > start, `README.md has ${tableStart} … ${tableEnd}`)
  assert.equal(readme.indexOf(tableStart, start + 1), -1, 'one start marker')
  assert.equal(
    readme.slice(start + tableStart.length, end),
    `\n${settingsTable()}`,
    'README.md is out of date: node --import tsx scripts/settings-table.ts --write',
  )
})

test('the table has one row per setting, naming its flag, kind and default', () => {
  const rows = settingsTable().trimEnd().split('\n').slice(2)
  assert.equal(rows.length, settingNames.length)
  for (const name of ['maxKeepalive', 'receiveMaximum', 'connectTimeout']) {
    const row = rows.find((r) => r.startsWith(`| \`${name}\` |`))
    assert.ok(row, name)
    assert.ok(row.includes(`\`${flagsOf(name as 'maxKeepalive')}\``), row)
  }
  assert.match(
    defined(
      rows.find((r) => r.includes('--receive-maximum')),
      "rows.find((r) => r.includes('--receive-maximum'))",
    ),
    /integer 1–65535 \| 65535 \|/,
  )
  assert.match(
    defined(
      rows.find((r) => r.includes('--max-keepalive')),
      "rows.find((r) => r.includes('--max-keepalive'))",
    ),
    /integer 0–65535 \| 0 \|/,
  )
  assert.match(
    defined(
      rows.find((r) => r.startsWith('| `listeners` |')),
      "rows.find((r) => r.startsWith('| `listeners` |'))",
    ),
    /config file only.*\[Listeners\]\(#listeners\)/,
  )
})

test('each flag is the kebab-case name of its setting, and commander reads it back under that name', () => {
  const command = settingsCommand()
  for (const name of settingNames) {
    const s = settings[name]
    const option = command.options.find((o) => o.attributeName() === name)
    assert.equal(option !== undefined, s.cli, `${name}: a flag exactly when the row says so`)
    if (option) assert.equal(new Option(flagsOf(name)).attributeName(), name)
  }
  assert.equal(command.options.length, settingNames.filter((n) => settings[n].cli).length)
})

test('--help shows every flag with its help text and default', () => {
  const help = settingsCommand().helpInformation().replace(/\s+/g, ' ')
  for (const name of settingNames) {
    const s = settings[name]
    if (!s.cli) continue
    assert.ok(help.includes(flagsOf(name)), `--help lists ${flagsOf(name)}`)
    assert.ok(help.includes(s.help.replace(/\)$/, '')), `--help explains ${name}`)
    if (s.default !== undefined)
      assert.ok(help.includes(`default ${s.default}`), `--help gives ${name}'s default`)
  }
})

test('command-line values are parsed and checked by kind', () => {
  const parse = (...args: string[]): Record<string, unknown> =>
    settingsCommand().parse(args, { from: 'user' }).opts()
  assert.deepEqual(parse('--max-keepalive', '10', '--receive-maximum', '5', '--connect-timeout', '3'), {
    maxKeepalive: 10,
    receiveMaximum: 5,
    connectTimeout: 3,
  })
  assert.deepEqual(parse('--http-allowed-hosts', 'a.lan, b.lan,', '--memory', '--log-level', 'warn'), {
    httpAllowedHosts: ['a.lan', 'b.lan'],
    memory: true,
    logLevel: 'warn',
  })
  for (const [args, message] of [
    [['--receive-maximum', '0'], /--receive-maximum.*not an integer from 1 to 65535/],
    [['--max-keepalive', '65536'], /--max-keepalive.*not an integer from 0 to 65535/],
    [['--connect-timeout', '0'], /--connect-timeout.*not an integer of at least 1/],
    [['--port', '1.5'], /--port.*not a non-negative integer/],
    [['--port', ''], /--port.*not a non-negative integer/],
    [['--log-level', 'loud'], /--log-level.*not one of fatal, error, warn, info, debug, trace, silent/],
  ] as const) {
    const command = settingsCommand().configureOutput({ writeErr: () => {} })
    assert.throws(() => command.parse([...args], { from: 'user' }), message, args.join(' '))
  }
})

test("the README's config-file examples pass the table's checks", () => {
  const readme = readFileSync(README, 'utf8')
  // A block marked as a response (the health check's, say) is no config file.
  const blocks = [...readme.matchAll(/(<!-- a response, not a config file -->\n)?```json\n([\s\S]*?)```/g)]
    .filter((m) => m[1] === undefined)
    .map((m) => (m[2] ?? '').trim())
  assert.ok(blocks.length >= 3, 'the settings, listeners and bridges examples')
  for (const block of blocks) {
    // The bridges example is the one key, without the braces around it.
    const parsed = JSON.parse(block.startsWith('{') ? block : `{${block}}`) as Record<string, unknown>
    assert.doesNotThrow(() => settingsFromFile(parsed, 'README', '/etc/tinymqtt'), block)
  }
})
