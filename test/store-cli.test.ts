// Issue 6 points 1 and 6 from the command line: the default data directory, --memory, a
// damaged directory stopping start-up with the path and the command to run, and reset-data.
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type Cleanup, freePort, spawnCollecting, withTimeout } from './helpers.ts'
import { connectCollecting, endClient, tempDataDir } from './store-helpers.ts'

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli.ts')
/** tsx by URL, so the CLI can run from a working directory outside the repository. */
const TSX = import.meta.resolve('tsx')
const START_TIMEOUT = 20_000

interface Run {
  output: () => string
  exited: Promise<number | null>
  stop: () => void
}

function runCli(t: Cleanup, cwd: string, args: string[]): Run {
  const { child, output, exited } = spawnCollecting(t, process.execPath, ['--import', TSX, CLI, ...args], cwd)
  return { output, exited, stop: () => child.kill('SIGTERM') }
}

/**
 * Waits for the listening log line, then for one MQTT round trip: the CLI installs its SIGTERM
 * handler right after start-up, so once it has served a connection, SIGTERM means a clean stop.
 */
async function untilServing(t: Cleanup, run: Run, port: number): Promise<void> {
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (/listener started/.test(run.output())) {
          clearInterval(timer)
          resolve()
        }
      }, 20)
      void run.exited.then(() => {
        clearInterval(timer)
        reject(new Error(`the CLI exited: ${run.output()}`))
      })
    }),
    'the CLI to listen',
    START_TIMEOUT,
  )
  const probe = await connectCollecting(port, { clientId: 'probe' }, t)
  await endClient(probe.client)
}

test('the CLI keeps state in ./tinymqtt-data by default, and nothing with --memory', async (t) => {
  const cwd = tempDataDir(t, 'tinymqtt-cwd-')
  const port = await freePort()
  const memory = runCli(t, cwd, ['-p', String(port), '-H', '127.0.0.1', '--memory'])
  await untilServing(t, memory, port)
  memory.stop()
  assert.equal(await memory.exited, 0)
  assert.deepEqual(readdirSync(cwd), [])

  const durable = runCli(t, cwd, ['-p', String(port), '-H', '127.0.0.1'])
  await untilServing(t, durable, port)
  const c = await connectCollecting(port, { clientId: 'c' }, t)
  await c.client.publishAsync('kept', 'yes', { qos: 1, retain: true })
  await endClient(c.client)
  durable.stop()
  assert.equal(await durable.exited, 0)
  assert.ok(existsSync(join(cwd, 'tinymqtt-data', 'tinymqtt.mdb')))

  const again = runCli(t, cwd, ['-p', String(port), '-H', '127.0.0.1'])
  await untilServing(t, again, port)
  const reader = await connectCollecting(port, { clientId: 'r' }, t)
  await reader.client.subscribeAsync('kept', { qos: 1 })
  const [message] = await reader.inbox.waitCount(1)
  assert.equal(message?.payload, 'yes')
  await endClient(reader.client)
  again.stop()
  assert.equal(await again.exited, 0)
})

test('a damaged data directory stops the CLI with the path and reset-data, which then clears it', async (t) => {
  const cwd = tempDataDir(t, 'tinymqtt-cwd-')
  const data = join(cwd, 'state')
  mkdirSync(data)
  writeFileSync(join(data, 'tinymqtt.mdb'), 'this is not a database, but it is somebody’s data')
  const port = await freePort()
  const refused = runCli(t, cwd, ['-p', String(port), '-H', '127.0.0.1', '-d', data])
  assert.equal(await withTimeout(refused.exited, 'the CLI to exit', START_TIMEOUT), 1)
  assert.ok(refused.output().includes(data), refused.output())
  assert.match(refused.output(), /tinymqtt reset-data/)
  assert.ok(existsSync(join(data, 'tinymqtt.mdb')), 'the damaged file is left alone')

  const reset = runCli(t, cwd, ['reset-data', data])
  assert.equal(await withTimeout(reset.exited, 'reset-data', START_TIMEOUT), 0)
  assert.match(reset.output(), /removed .*tinymqtt\.mdb/)

  const started = runCli(t, cwd, ['-p', String(port), '-H', '127.0.0.1', '-d', data])
  await untilServing(t, started, port)
  // reset-data refuses while a broker holds the directory.
  const busy = runCli(t, cwd, ['reset-data', data])
  assert.equal(await withTimeout(busy.exited, 'reset-data', START_TIMEOUT), 1)
  assert.match(busy.output(), /in use by a running tinymqtt broker/)
  started.stop()
  assert.equal(await started.exited, 0)
})
