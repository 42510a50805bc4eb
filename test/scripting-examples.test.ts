import assert from 'node:assert/strict'
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { connectAsync, type MqttClient } from 'mqtt'
import { getTimes } from 'suncalc'
import ts from 'typescript'
import { Broker } from '../src/broker/broker.ts'
import { startBroker } from '../src/index.ts'
import { type ScriptingHost, startScripting } from '../src/scripting/index.ts'
import { MemoryStore } from '../src/store/memory.ts'
import { collect, LogCapture, nextMessage, until } from './scripting-helpers.ts'

const examples = join(dirname(fileURLToPath(import.meta.url)), '..', 'examples')

describe('examples/ (all loaded together, as npm start does)', () => {
  let broker: Broker
  let host: ScriptingHost
  let client: MqttClient
  let copy: string
  let notifier: Server
  /** Requests the washer example sent to its notification URL. */
  const notifications: { method: string; body: string }[] = []
  const log = new LogCapture()

  before(async () => {
    // A copy whose notification URL points at a local server: tests reach 127.0.0.1 only.
    notifier = createServer((req, res) => {
      let body = ''
      req.on('data', (c: Buffer) => {
        body += c.toString()
      })
      req.on('end', () => {
        notifications.push({ method: req.method ?? '', body })
        res.end('ok')
      })
    })
    await new Promise<void>((r) => notifier.listen(0, '127.0.0.1', r))
    copy = await mkdtemp(join(tmpdir(), 'tinymqtt-examples-'))
    await cp(examples, copy, { recursive: true })
    const washer = join(copy, 'washer-state.js')
    const source = await readFile(washer, 'utf8')
    const url = `http://127.0.0.1:${(notifier.address() as AddressInfo).port}/washer-done`
    const replaced = source.replace(/const NOTIFY_URL = '[^']*'/, `const NOTIFY_URL = '${url}'`)
    assert.notEqual(replaced, source, 'washer-state.js declares NOTIFY_URL')
    await writeFile(washer, replaced)
    broker = new Broker({ port: 0, host: '127.0.0.1', logger: log.logger, store: new MemoryStore() })
    await broker.start()
    host = await startScripting(broker, { path: copy, watch: false })
    client = await connectAsync(`mqtt://127.0.0.1:${broker.port}`, { reconnectPeriod: 0 })
  })
  after(async () => {
    await client.endAsync(true)
    await host.close()
    await broker.close()
    notifier.close()
    await rm(copy, { recursive: true, force: true })
  })

  it('every example loads cleanly', () => {
    const scripts = host.scripts()
    assert.deepEqual(scripts.map((s) => s.name).sort(), [
      'autoexec.js',
      'power-overview.js',
      'staircase-timer.js',
      'sunset-light.js',
      'washer-state.js',
    ])
    for (const s of scripts) assert.equal(s.status, 'running', `${s.name}: ${s.error}`)
    assert.equal(log.lines.filter((l) => l.level >= 50).length, 0, log.tail())
  })

  it('autoexec.js mirrors stat/tasmota_476739/POWER2 to cmnd/obk174083A4/POWER', async () => {
    const got = await collect(client, 'cmnd/obk174083A4/POWER')
    await client.publishAsync('stat/tasmota_476739/POWER2', 'ON')
    await client.publishAsync('stat/tasmota_476739/POWER2', 'OFF')
    await until(() => got.length === 2, 'two mirrored commands')
    assert.deepEqual(
      got.map((m) => m.payload),
      ['ON', 'OFF'],
    )
  })

  it('power-overview.js tracks stat/+/POWER and publishes the devices that are on', async () => {
    const got = await collect(client, 'tinymqtt/power/on')
    await client.publishAsync('stat/plug_b/POWER', 'ON')
    await client.publishAsync('stat/plug_a/POWER', 'ON')
    await client.publishAsync('stat/plug_b/POWER', 'OFF')
    await client.publishAsync('stat/plug_b/POWER2', 'ON') // not matched by stat/+/POWER
    await until(() => got.at(-1)?.payload === '["plug_a"]' && got.length >= 3, 'the overview')
    assert.deepEqual(
      got.slice(-3).map((m) => m.payload),
      ['["plug_b"]', '["plug_a","plug_b"]', '["plug_a"]'],
    )
    const late = await connectAsync(`mqtt://127.0.0.1:${broker.port}`, { reconnectPeriod: 0 })
    const retained = await nextMessage(late, 'tinymqtt/power/on')
    assert.equal(retained.payload.toString(), '["plug_a"]')
    await late.endAsync(true)
  })

  it('staircase-timer.js switches on, restarts the countdown, and switches off once', async () => {
    const got = await collect(client, 'cmnd/staircase/POWER')
    await client.publishAsync('cmnd/staircase/TIMER', '0.2')
    await until(() => got.length === 1, 'ON')
    await client.publishAsync('cmnd/staircase/TIMER', '0.1')
    await until(() => got.length === 2, 'OFF')
    assert.deepEqual(
      got.map((m) => m.payload),
      ['ON', 'OFF'],
    )
    await client.publishAsync('cmnd/staircase/TIMER', 'soon')
    await log.waitFor((l) => l.script === 'staircase-timer.js' && /ignoring TIMER/.test(String(l.msg)))
  })

  it('sunset-light.js without a location says it needs --latitude/--longitude and schedules nothing', async () => {
    const line = await log.waitFor((l) => l.script === 'sunset-light.js' && l.msg !== 'script loaded')
    assert.match(String(line.msg), /needs the broker's location \(--latitude\/--longitude\)/)
    assert.equal(line.level, 30)
    const script = host.scripts().find((s) => s.name === 'sunset-light.js')
    assert.equal(script?.status, 'running')
    assert.equal(script?.timers, 0)
    const own = log.lines.filter((l) => l.script === 'sunset-light.js' && l.msg !== 'script loaded')
    assert.deepEqual(own, [line], 'nothing else from the script')
  })

  it('washer-state.js walks idle → running → finishing → done, counts the cycle and notifies', async () => {
    const got = await collect(client, 'tinymqtt/washer/state')
    const cycles = await collect(client, 'tinymqtt/washer/cycles')
    for (const watts of ['2', '500', '1800', '3', '400', '2', '1', '0', '0']) {
      await client.publishAsync('tele/washer/POWER', watts)
    }
    await until(() => got.at(-1)?.payload === 'done', 'done')
    assert.deepEqual(
      got.map((m) => m.payload),
      ['running', 'finishing', 'running', 'finishing', 'done'],
    )
    await until(() => notifications.length === 1, 'the notification request')
    assert.equal(notifications[0]?.method, 'POST')
    assert.deepEqual(JSON.parse(notifications[0]?.body ?? ''), { message: 'Washer done (cycle 1)' })
    assert.deepEqual(
      cycles.map((m) => m.payload),
      ['1'],
    )
  })

  it('washer-state.js keeps its state and cycle count in persist across a reload', async () => {
    const cycles = await collect(client, 'tinymqtt/washer/cycles')
    const states = await collect(client, 'tinymqtt/washer/state')
    await client.publishAsync('tele/washer/POWER', '900')
    await until(() => states.some((m) => m.payload === 'running'), 'running again')
    assert.equal(await host.reload('washer-state.js'), true)
    // Mid-cycle after the reload: low readings finish this wash as cycle 2, not from idle.
    for (const watts of ['1', '0', '0']) await client.publishAsync('tele/washer/POWER', watts)
    await until(() => cycles.some((m) => m.payload === '2'), 'cycle 2')
    await until(() => notifications.length === 2, 'the second notification')
    assert.deepEqual(JSON.parse(notifications[1]?.body ?? ''), { message: 'Washer done (cycle 2)' })
  })
})

describe('examples/sunset-light.js with a location', () => {
  it('schedules the porch light for the next sunset, the one suncalc computes', async () => {
    const berlin = { latitude: 52.52, longitude: 13.405 }
    const log = new LogCapture()
    const broker = new Broker({ port: 0, host: '127.0.0.1', logger: log.logger, store: new MemoryStore() })
    await broker.start()
    const before = Date.now()
    const host = await startScripting(broker, {
      path: join(examples, 'sunset-light.js'),
      watch: false,
      ...berlin,
    })
    try {
      const line = await log.waitFor((l) => l.script === 'sunset-light.js' && l.msg !== 'script loaded')
      const after = Date.now()
      const at = Date.parse(String(line.msg).replace('porch light on at ', ''))
      const nextSunset = (from: number) => {
        for (let day = Math.floor(from / 86_400_000) - 1; ; day++) {
          const t = getTimes(
            new Date(day * 86_400_000 + 43_200_000),
            berlin.latitude,
            berlin.longitude,
          ).sunset
          if (t && t.getTime() > from) return t.getTime()
        }
      }
      // A sunset could pass while the script loads; then it is the following one.
      assert.ok(at === nextSunset(before) || at === nextSunset(after), `${line.msg}`)
      assert.ok(
        at > before && at - before < 86_400_000 + 3_600_000,
        'tonight, or tomorrow night once it has passed',
      )
      assert.equal(host.scripts()[0]?.timers, 1)
    } finally {
      await host.close()
      await broker.close()
    }
  })
})

describe('examples/tinymqtt.d.ts + jsconfig.json (editor support)', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tinymqtt-types-'))
  })
  after(() => rm(dir, { recursive: true, force: true }))

  function check(extraFiles: string[]): readonly ts.Diagnostic[] {
    const configPath = join(examples, 'jsconfig.json')
    const config = ts.readConfigFile(configPath, ts.sys.readFile)
    const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, examples, undefined, configPath)
    const program = ts.createProgram([...parsed.fileNames, ...extraFiles], parsed.options)
    return ts.getPreEmitDiagnostics(program)
  }

  it('declares every global the examples use', () => {
    const diagnostics = check([])
    assert.deepEqual(
      diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')),
      [],
    )
  })

  it('flags a wrong call in a plain .js script', async () => {
    const bad = join(dir, 'bad.js')
    await writeFile(bad, "ms_subscribe(42, (topic) => topic.toFixed())\nms_publish('t', 1, { qos: 3 })\n")
    const diagnostics = check([bad]).filter((d) => d.file?.fileName === bad)
    assert.equal(diagnostics.length, 3)
  })
})

describe('startBroker({ scripts }) (what npm start does with examples/)', () => {
  it('loads the examples, runs them, and stops them with the broker', async () => {
    const broker = await startBroker({ port: 0, host: '127.0.0.1', scripts: examples, logLevel: 'silent' })
    try {
      const client = await connectAsync(`mqtt://127.0.0.1:${broker.port}`, { reconnectPeriod: 0 })
      // SUBSCRIBE goes out before the PUBLISH below on the same connection, so it is in place.
      const mirrored = nextMessage(client, 'cmnd/obk174083A4/POWER')
      await client.publishAsync('stat/tasmota_476739/POWER2', 'ON')
      assert.equal((await mirrored).payload.toString(), 'ON')
      await client.endAsync(true)
    } finally {
      await broker.close()
    }
  })
})
