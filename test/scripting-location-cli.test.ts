// The broker's location for sun-event schedules: --latitude/--longitude and the config file's
// latitude/longitude reach the scripts; a half or out-of-range location is refused at start.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { getTimes } from 'suncalc'
import { readConfigFile } from '../src/config.ts'
import { resolveOptions } from '../src/scripting/options.ts'
import { defined } from './defined.ts'
import { until } from './scripting-helpers.ts'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const CLI = join(ROOT, 'src', 'cli.ts')
/** Starting node with tsx takes a while on a busy 2-core machine. */
const START_TIMEOUT = 30_000
const SYDNEY = { latitude: -33.87, longitude: 151.21 }

function runCli(args: string[]): { child: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CLI, '--memory', '-p', '0', '-H', '127.0.0.1', ...args],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    },
  )
  let out = ''
  defined(child.stdout, 'child.stdout').on('data', (d: Buffer) => {
    out += d.toString()
  })
  defined(child.stderr, 'child.stderr').on('data', (d: Buffer) => {
    out += d.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)))
  return { child, out: () => out, exited }
}

/** The sunset at SYDNEY that follows `from`, per suncalc. */
function nextSunset(from: number): number {
  for (let day = Math.floor(from / 86_400_000) - 1; ; day++) {
    const t = getTimes(new Date(day * 86_400_000 + 43_200_000), SYDNEY.latitude, SYDNEY.longitude).sunset
    if (t && t.getTime() > from) return t.getTime()
  }
}

describe('--latitude/--longitude', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tinymqtt-location-'))
    await writeFile(join(dir, 'sun.js'), "print('next sunset ' + ms_next(ms_schedule('sunset', () => {})))\n")
  })
  after(() => rm(dir, { recursive: true, force: true }))

  async function nextSunsetLogged(args: string[]): Promise<void> {
    const before = Date.now()
    const cli = runCli(args)
    try {
      await until(
        () => /next sunset \d+/.test(cli.out()) || cli.child.exitCode !== null,
        'the script',
        START_TIMEOUT,
      )
      const at = Number(/next sunset (\d+)/.exec(cli.out())?.[1])
      assert.ok(at === nextSunset(before) || at === nextSunset(Date.now()), cli.out())
    } finally {
      cli.child.kill('SIGTERM')
      await cli.exited
    }
  }

  it('reach the scripts (negative degrees included)', async () => {
    await nextSunsetLogged([
      '--scripts',
      dir,
      '--latitude',
      String(SYDNEY.latitude),
      '--longitude',
      String(SYDNEY.longitude),
    ])
  })

  it('come from the config file too', async () => {
    const config = join(dir, 'config.json')
    await writeFile(config, JSON.stringify({ scripts: dir, ...SYDNEY }))
    await nextSunsetLogged(['--config', config])
  })

  it('are refused when only one is given or one is out of range', async () => {
    for (const [args, message] of [
      [['--latitude', '52'], /latitude and longitude must be set together/],
      [['--latitude', '91', '--longitude', '0'], /--latitude.*not a number of degrees from -90 to 90/],
      [['--latitude', '0', '--longitude', 'east'], /--longitude.*not a number of degrees from -180 to 180/],
    ] as const) {
      const cli = runCli([...args])
      assert.notEqual(await cli.exited, 0)
      assert.match(cli.out(), message)
    }
  })
})

describe('latitude/longitude in the config file and the scripting options', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tinymqtt-location-config-'))
  })
  after(() => rm(dir, { recursive: true, force: true }))

  it('are numbers of degrees in range', async () => {
    const file = join(dir, 'c.json')
    await writeFile(file, JSON.stringify({ latitude: 69.65, longitude: -18.5 }))
    assert.deepEqual(await readConfigFile(file), { latitude: 69.65, longitude: -18.5 })
    await writeFile(file, JSON.stringify({ latitude: '52' }))
    await assert.rejects(readConfigFile(file), /"latitude" must be a number of degrees from -90 to 90/)
    await writeFile(file, JSON.stringify({ longitude: 181 }))
    await assert.rejects(readConfigFile(file), /"longitude" must be a number of degrees from -180 to 180/)
  })

  it('resolve to a location for the scripts, both or neither', () => {
    assert.deepEqual(resolveOptions({ path: 'x', latitude: 1, longitude: 2 }).location, {
      latitude: 1,
      longitude: 2,
    })
    assert.equal(resolveOptions({ path: 'x' }).location, undefined)
    assert.throws(() => resolveOptions({ path: 'x', longitude: 2 }), /must be set together/)
    assert.throws(() => resolveOptions({ path: 'x', latitude: -91, longitude: 2 }), /latitude must be/)
  })
})
