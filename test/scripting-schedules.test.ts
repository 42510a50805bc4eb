import assert from 'node:assert/strict'
import { unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { MqttClient } from 'mqtt'
import { defined } from './defined.ts'
import { collect, nextMessage, type ScriptEnv, startEnv, until } from './scripting-helpers.ts'

// Real time, whole seconds: '* * * * * *' fires at every second boundary.
const scripts: Record<string, string> = {
  'tick.js': `
const id = ms_schedule('* * * * * *', (at) => {
  ms_publish('sched/tick', JSON.stringify({ at, now: Date.now(), next: ms_next(id) }))
})
ms_subscribe('sched/next', () => ms_publish('sched/next/out', JSON.stringify({ now: Date.now(), next: ms_next(id) })))
ms_subscribe('sched/stop', () => {
  const first = ms_unschedule(id)
  const second = ms_unschedule(id)
  ms_publish('sched/stopped', JSON.stringify({ first, second, next: ms_next(id) ?? null }))
})
`,
  'control.js': `ms_schedule('*/1 * * * * *', (at) => ms_publish('sched/control', String(at)))
`,
  'try.js': `
ms_subscribe('sched/try', (topic, spec) => {
  try {
    ms_schedule(spec, () => {})
    ms_publish('sched/try/out', 'accepted')
  } catch (e) {
    ms_publish('sched/try/out', e.name + ': ' + e.message)
  }
})
`,
  'bad.js': `// the schedule below is not a cron expression
const x = 1
ms_schedule('every minute', () => {})
`,
  'throws.js': `let n = 0
ms_schedule('* * * * * *', () => {
  n++
  if (n === 1) null.boom
  ms_publish('sched/after-throw', String(n))
})
`,
  'versions.js': `ms_schedule('* * * * * *', () => ms_publish('sched/version', 'v1'))
export function deinit() { ms_publish('sched/version', 'deinit-v1') }
`,
}

describe('ms_schedule over a real broker', () => {
  let env: ScriptEnv
  let client: MqttClient

  before(async () => {
    env = await startEnv(scripts, { watch: true })
    client = await env.client()
  })
  after(() => env.close())

  it('a seconds-field cron fires at whole seconds; ms_next inside the callback names the following run', async () => {
    const ticks = await collect(client, 'sched/tick')
    await until(() => ticks.length >= 2, 'two ticks')
    const [a, b] = ticks.map((t) => JSON.parse(t.payload) as { at: number; now: number; next: number })
    assert.ok(a && b, 'two ticks parsed')
    assert.equal(a.at % 1000, 0)
    assert.ok(a.now >= a.at, 'the callback runs at or after its time')
    assert.equal(a.next, a.at + 1000)
    assert.equal(b.at % 1000, 0)
    assert.ok(b.at > a.at)
  })

  it('ms_next returns the next run, a future whole second', async () => {
    const out = nextMessage(client, 'sched/next/out')
    await client.publishAsync('sched/next', '')
    const { now, next } = JSON.parse((await out).payload.toString()) as { now: number; next: number }
    assert.ok(next > now, `${next} > ${now}`)
    assert.equal(next % 1000, 0)
  })

  it('an invalid spec throws a clear error; uncaught at the top level it is logged with file:line:column', async () => {
    const line = await env.log.waitFor((l) => l.script === 'bad.js' && /ms_schedule/.test(String(l.msg)))
    assert.match(
      String(line.msg),
      /^bad\.js:3:\d+ SyntaxError: ms_schedule: invalid schedule 'every minute': expected a cron expression/,
    )
    assert.equal(env.host.scripts().find((s) => s.name === 'bad.js')?.status, 'error')

    const answers = await collect(client, 'sched/try/out')
    const tries = ['61 * * * *', 'sunset', 'sunset+15', '* * * *', '*/5 * * * * *']
    for (const spec of tries) await client.publishAsync('sched/try', spec)
    await until(() => answers.length === tries.length, 'an answer per spec')
    assert.match(
      defined(answers[0], 'answers[0]').payload,
      /^SyntaxError: ms_schedule: invalid cron expression '61 \* \* \* \*'/,
    )
    assert.match(
      defined(answers[1], 'answers[1]').payload,
      /^Error: ms_schedule: sun event 'sunset' needs the broker's location: .*--latitude <deg> --longitude <deg>/,
    )
    assert.match(
      defined(answers[2], 'answers[2]').payload,
      /^SyntaxError: ms_schedule: invalid sun event 'sunset\+15'/,
    )
    assert.match(defined(answers[3], 'answers[3]').payload, /expected a cron expression of 5 fields/)
    assert.equal(defined(answers[4], 'answers[4]').payload, 'accepted')
  })

  it('an error in a schedule callback is logged with file:line:column and the schedule keeps running', async () => {
    const after = nextMessage(client, 'sched/after-throw', (p) => Number(p) >= 2)
    const line = await env.log.waitFor((l) => l.script === 'throws.js' && l.level === 50)
    assert.match(String(line.msg), /^throws\.js:4:\d+ TypeError: .*\(error in ms_schedule callback\)$/)
    await after
  })

  it('ms_unschedule stops a schedule; a second call and ms_next show it is gone', async () => {
    const seen: string[] = []
    client.on('message', (topic, payload) => {
      if (topic === 'sched/tick' || topic === 'sched/stopped' || topic === 'sched/control') {
        seen.push(`${topic} ${payload.toString()}`)
      }
    })
    await client.subscribeAsync(['sched/tick', 'sched/stopped', 'sched/control'])
    const stopped = nextMessage(client, 'sched/stopped')
    await client.publishAsync('sched/stop', '')
    assert.deepEqual(JSON.parse((await stopped).payload.toString()), {
      first: true,
      second: false,
      next: null,
    })
    const stoppedAt = seen.findIndex((m) => m.startsWith('sched/stopped'))
    // Two more runs of another schedule: more than a second passed without a tick.
    await until(
      () => seen.slice(stoppedAt).filter((m) => m.startsWith('sched/control')).length >= 2,
      'control runs',
    )
    assert.deepEqual(
      seen.slice(stoppedAt).filter((m) => m.startsWith('sched/tick')),
      [],
    )
  })

  it('schedules end with their script on reload and on unload', async () => {
    const versions = await collect(client, 'sched/version')
    await until(() => versions.some((m) => m.payload === 'v1'), 'v1 running')
    await env.write(
      'versions.js',
      "ms_schedule('* * * * * *', () => ms_publish('sched/version', 'v2'))\n" +
        "export function deinit() { ms_publish('sched/version', 'deinit-v2') }\n",
    )
    await until(() => versions.filter((m) => m.payload === 'v2').length >= 2, 'v2 running')
    const retired = versions.findIndex((m) => m.payload === 'deinit-v1')
    assert.ok(retired >= 0)
    assert.deepEqual(
      versions.slice(retired).filter((m) => m.payload === 'v1'),
      [],
      'no v1 run after it was retired',
    )
    assert.equal(env.host.scripts().find((s) => s.name === 'versions.js')?.timers, 1)

    const control = await collect(client, 'sched/control')
    await unlink(join(env.dir, 'versions.js'))
    await until(() => !env.host.scripts().some((s) => s.name === 'versions.js'), 'unloaded')
    await until(() => versions.some((m) => m.payload === 'deinit-v2'), 'deinit at the unload')
    const unloaded = versions.findIndex((m) => m.payload === 'deinit-v2')
    // Two control runs after it: more than a second passed in which v2 would have run.
    const controlFrom = control.length
    await until(() => control.length >= controlFrom + 2, 'control runs')
    assert.deepEqual(
      versions.slice(unloaded).filter((m) => m.payload === 'v2'),
      [],
      'no v2 run after it was unloaded',
    )
  })
})

describe('schedules count against maxTimers', () => {
  let env: ScriptEnv
  before(async () => {
    env = await startEnv(
      {
        'limit.js': `
setTimeout(() => {}, 60000)
const a = ms_schedule('0 0 * * *', () => {})
const b = ms_schedule('0 0 * * *', () => {})
let third = 'accepted'
try { ms_schedule('0 0 * * *', () => {}) } catch (e) { third = e.name + ': ' + e.message }
let timer = 'accepted'
try { setTimeout(() => {}, 1) } catch (e) { timer = e.name + ': ' + e.message }
ms_unschedule(a)
let afterUnschedule = 'accepted'
try { setTimeout(() => {}, 60000) } catch (e) { afterUnschedule = e.name + ': ' + e.message }
print(JSON.stringify({ third, timer, afterUnschedule }))
`,
      },
      { maxTimers: 3, watch: false },
    )
  })
  after(() => env.close())

  it('a schedule beyond the limit throws, a timer too, and unscheduling frees a place', async () => {
    const line = await env.log.waitFor((l) => l.script === 'limit.js' && String(l.msg).startsWith('{'))
    assert.deepEqual(JSON.parse(String(line.msg)), {
      third: 'RangeError: ms_schedule: timer limit of 3 reached',
      timer: 'RangeError: timer limit of 3 reached',
      afterUnschedule: 'accepted',
    })
    assert.equal(env.host.scripts().find((s) => s.name === 'limit.js')?.timers, 3)
  })
})
