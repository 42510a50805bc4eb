// The data-directory lock is a Unix socket the kernel releases when its holder dies: a broker
// killed with SIGKILL can be replaced at once, before anything reaps it; a live broker keeps
// the directory, and a second one is refused naming its pid.
import assert from 'node:assert/strict'
import { existsSync, lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { startBroker } from '../src/index.ts'
import { lockDataDir, lockFileName, lockPath, tryLockDataDir } from '../src/store/lock.ts'
import { resetDataDir } from '../src/store/reset.ts'
import { defined } from './defined.ts'
import { type Cleanup, freePort, spawnCollecting, until, withTimeout } from './helpers.ts'
import { connectCollecting, endClient, tempDataDir } from './store-helpers.ts'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const CLI = join(ROOT, 'src', 'cli.ts')
const LOCK = join(ROOT, 'src', 'store', 'lock.ts')
const TSX = import.meta.resolve('tsx')
/** Starting node with tsx takes a while on a busy 2-core machine. */
const START_TIMEOUT = 20_000

interface Proc {
  output: () => string
  exited: Promise<number | null>
}

function run(t: Cleanup, command: string, args: string[]): Proc {
  const { output, exited } = spawnCollecting(t, command, args, ROOT)
  return { output, exited }
}

function cliArgs(port: number, data: string): string[] {
  return ['--import', TSX, CLI, '-p', String(port), '-H', '127.0.0.1', '-d', data]
}

/** The state letter of a process in /proc (Z = zombie: dead, not yet reaped). */
function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]
  } catch {
    return undefined
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

test('a broker killed with SIGKILL is replaced at once, before it is reaped', async (t) => {
  if (process.platform !== 'linux') {
    t.skip('needs /proc to see the unreaped process')
    return
  }
  const data = tempDataDir(t)
  const port = await freePort()
  // The broker's parent is a shell that then becomes `sleep`, which never waits for children:
  // once killed, the broker stays a zombie (its pid still "alive" to kill(pid, 0)) for the test.
  const script = '"$0" "$@" & echo "PID $!"; exec sleep 600'
  const holder = run(t, 'sh', ['-c', script, process.execPath, ...cliArgs(port, data)])
  await until(() => /PID \d+/.test(holder.output()), 'the broker pid', START_TIMEOUT)
  const pid = Number(defined(/PID (\d+)/.exec(holder.output()), '/PID (\\d+)/.exec(holder.output())')[1])
  t.after(() => {
    if (isAlive(pid)) process.kill(pid, 'SIGKILL')
  })
  await until(() => /listener started/.test(holder.output()), 'the first broker to listen', START_TIMEOUT)
  const before = await connectCollecting(port, { clientId: 'kept', clean: false }, t)
  await before.client.subscribeAsync('x', { qos: 1 })
  await endClient(before.client)

  process.kill(pid, 'SIGKILL')
  await until(() => procState(pid) === 'Z', 'the broker to die')
  // The old pid check would see this pid alive and refuse.
  assert.ok(isAlive(pid), 'the dead broker is not reaped yet')

  const nextPort = await freePort()
  const next = run(t, process.execPath, cliArgs(nextPort, data))
  await withTimeout(
    Promise.race([
      until(() => /listener started/.test(next.output()), 'the new broker to listen', START_TIMEOUT),
      next.exited.then(() => {
        throw new Error(`the new broker exited: ${next.output()}`)
      }),
    ]),
    'the new broker to start',
    START_TIMEOUT,
  )
  assert.equal(procState(pid), 'Z', 'nothing reaped the dead broker meanwhile')
  const after = await connectCollecting(nextPort, { clientId: 'kept', clean: false }, t)
  assert.equal(after.sessionPresent, true, 'the new broker opened the same store')
  await endClient(after.client)
})

test('a second live CLI broker on the directory is refused, naming the holder', async (t) => {
  const data = tempDataDir(t)
  const port = await freePort()
  const first = run(t, process.execPath, cliArgs(port, data))
  await until(() => /listener started/.test(first.output()), 'the first broker to listen', START_TIMEOUT)
  const second = run(t, process.execPath, cliArgs(await freePort(), data))
  assert.equal(await withTimeout(second.exited, 'the second broker to exit', START_TIMEOUT), 1)
  assert.ok(second.output().includes(data), second.output())
  assert.match(second.output(), /in use by another tinymqtt broker \(pid \d+\)/)
  assert.match(second.output(), /--data/)
})

test('a lock held in this process is reported with its pid; released, it is free again', async (t) => {
  const data = tempDataDir(t)
  const release = await lockDataDir(data)
  const busy = await tryLockDataDir(data)
  assert.deepEqual(busy, { holder: process.pid })
  await assert.rejects(
    startBroker({ port: 0, host: '127.0.0.1', logLevel: 'silent', data }),
    (error: Error) => {
      assert.match(error.message, /in use by another tinymqtt broker \(pid \d+, this process\)/)
      return true
    },
  )
  release()
  await until(() => !existsSync(join(data, lockFileName)), 'the socket file to go')
  const again = await tryLockDataDir(data)
  assert.ok('release' in again)
  again.release()
})

test('the lock socket only says who holds it and hangs up', async (t) => {
  const data = tempDataDir(t)
  const release = await lockDataDir(data)
  t.after(release)
  assert.ok(lstatSync(join(data, lockFileName)).isSocket())
  const reply = await withTimeout(
    new Promise<string>((resolve, reject) => {
      let text = ''
      const socket = net.connect(join(data, lockFileName))
      socket.on('data', (d: Buffer) => {
        text += d.toString()
      })
      socket.on('error', reject)
      socket.on('close', () => resolve(text))
      socket.write('CONNECT or anything else')
    }),
    'the lock socket to hang up',
  )
  assert.equal(reply, `${process.pid}\n`)
})

test('a socket file left by a killed holder is taken over; reset-data refuses while held', async (t) => {
  const data = tempDataDir(t)
  const code = `const m = await import(${JSON.stringify(LOCK)}); await m.lockDataDir(${JSON.stringify(data)}); console.log('HELD'); setInterval(() => {}, 1e6)`
  const holder = run(t, process.execPath, ['--import', TSX, '--input-type=module', '-e', code])
  await until(() => holder.output().includes('HELD'), 'the child to hold the lock', START_TIMEOUT)
  writeFileSync(join(data, 'tinymqtt.mdb'), '')
  await assert.rejects(resetDataDir(data), /in use by a running tinymqtt broker \(pid \d+\)/)
  assert.ok(existsSync(join(data, 'tinymqtt.mdb')), 'nothing was removed')
  const busy = await tryLockDataDir(data)
  assert.ok('holder' in busy && busy.holder !== process.pid, 'held by the child')

  await withTimeout(
    new Promise<void>((resolve) => {
      void holder.exited.then(() => resolve())
      process.kill(Number((busy as { holder: number }).holder), 'SIGKILL')
    }),
    'the holder to die',
  )
  assert.ok(lstatSync(join(data, lockFileName)).isSocket(), 'its socket file is left behind')
  const removed = await resetDataDir(data)
  assert.deepEqual(removed, [join(data, 'tinymqtt.mdb')])
  const broker = await startBroker({ port: 0, host: '127.0.0.1', logLevel: 'silent', data })
  await broker.close()
})

test('a pid lock file from an older tinymqtt is replaced without a pid check', async (t) => {
  const data = tempDataDir(t)
  // Our own pid: alive, so the old liveness check would have refused.
  writeFileSync(join(data, lockFileName), `${process.pid}\n`)
  const broker = await startBroker({ port: 0, host: '127.0.0.1', logLevel: 'silent', data })
  assert.ok(lstatSync(join(data, lockFileName)).isSocket())
  await broker.close()
})

test('a lock socket path too long for the kernel moves to the temp directory, keyed by the path', async (t) => {
  const base = tempDataDir(t)
  const data = join(base, 'd'.repeat(60), 'e'.repeat(60))
  mkdirSync(data, { recursive: true })
  const path = lockPath(data)
  assert.ok(!path.startsWith(data), path)
  assert.match(path, /tinymqtt-[0-9a-f]{24}\.lock$/)
  const link = join(base, 'l'.repeat(120))
  symlinkSync(data, link)
  assert.equal(lockPath(link), path, 'the same directory by another path gives the same lock')
  const broker = await startBroker({ port: 0, host: '127.0.0.1', logLevel: 'silent', data })
  await assert.rejects(
    startBroker({ port: 0, host: '127.0.0.1', logLevel: 'silent', data }),
    /in use by another tinymqtt broker/,
  )
  await broker.close()
  assert.ok(!existsSync(path), 'released on close')
})

test('the lock does not keep a process alive', async (t) => {
  const data = tempDataDir(t)
  const code = `const m = await import(${JSON.stringify(LOCK)}); await m.lockDataDir(${JSON.stringify(data)}); console.log('HELD')`
  const child = run(t, process.execPath, ['--import', TSX, '--input-type=module', '-e', code])
  assert.equal(await withTimeout(child.exited, 'the process to end by itself', START_TIMEOUT), 0)
  assert.match(child.output(), /HELD/)
})
