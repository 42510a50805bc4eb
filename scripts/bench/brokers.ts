/**
 * Launchers for the brokers under test. Each broker runs in its own process pinned to
 * the broker core, so its CPU and RSS are its own and readable from /proc.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { NODE_FLAGS } from '../../src/node-flags.ts'
import type { ScenarioId } from './options.ts'
import { BROKER_CORE, captureOutput, pidOf, spawnPinned, stopChild, trackTempDir, waitExit } from './procs.ts'

export type BrokerName = 'tinymqtt' | 'mosquitto' | 'aedes' | 'node-floor' | 'sink'

export interface RunningBroker {
  name: BrokerName
  pid: number
  port: number
  stop(): Promise<void>
  /** Node brokers: process.memoryUsage() (heap, external, array buffers) at this moment. */
  memoryUsage?(): Promise<NodeJS.MemoryUsage | undefined>
}

export interface BrokerLauncher {
  name: BrokerName
  /** The scenarios it takes part in, when not all (a fake broker routes nothing). */
  only?: readonly ScenarioId[]
  /** Why it cannot run here, or undefined when it can. */
  unavailable(): string | undefined
  /**
   * `dataDir`: keep sessions in this directory (tinymqtt's LMDB store, Mosquitto's
   * persistence file), so a broker started again on it restores them. Aedes ignores it.
   */
  start(options?: StartOptions): Promise<RunningBroker>
}

export interface StartOptions {
  dataDir?: string
}

/** The broker could not be started at all: later scenarios for it are skipped. */
export class BrokerStartError extends Error {
  override name = 'BrokerStartError'
}

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
const START_TIMEOUT_MS = 20_000

/**
 * A broker process that prints `READY <port>` once listening: the Node entries in
 * scripts/bench run under tsx (with an IPC channel, whose loss makes them exit), or the
 * C sink (whose stdin closing does the same).
 */
function announcingBroker(name: BrokerName, command: () => [string, string[]]): BrokerLauncher {
  return {
    name,
    unavailable: () => undefined,
    async start(options: StartOptions = {}) {
      const [file, args] = command()
      const node = file === process.execPath
      const child = spawnPinned(BROKER_CORE, file, args, {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          ...(options.dataDir === undefined ? {} : { BENCH_DATA_DIR: options.dataDir }),
        },
        stdio: node ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['pipe', 'pipe', 'pipe'],
      })
      const stderr = captureOutput(child)
      const port = await new Promise<number>((resolve, reject) => {
        let out = ''
        const timer = setTimeout(
          () => fail(new BrokerStartError(`${name} did not start within ${START_TIMEOUT_MS} ms`)),
          START_TIMEOUT_MS,
        )
        const fail = (err: Error): void => {
          clearTimeout(timer)
          void stopChild(child)
          reject(err)
        }
        child.stdout?.on('data', (chunk: Buffer) => {
          out += chunk.toString('utf8')
          const match = /READY (\d+)/.exec(out)
          if (match !== null) {
            clearTimeout(timer)
            resolve(Number(match[1]))
          }
        })
        child.once('exit', (code) =>
          fail(new BrokerStartError(`${name} exited with code ${code} at start: ${stderr() || out}`)),
        )
        child.once('error', fail)
      })
      const memoryUsage = (): Promise<NodeJS.MemoryUsage | undefined> =>
        new Promise((resolve) => {
          if (!child.connected) return resolve(undefined)
          const timer = setTimeout(() => done(undefined), 2000)
          const done = (value: NodeJS.MemoryUsage | undefined): void => {
            clearTimeout(timer)
            child.off('message', onMessage)
            resolve(value)
          }
          const onMessage = (msg: unknown): void => {
            if (typeof msg === 'object' && msg !== null && 'memory' in msg)
              done(msg.memory as NodeJS.MemoryUsage)
          }
          child.on('message', onMessage)
          child.send('memory')
        })
      return { name, pid: pidOf(child), port, stop: () => stopChild(child), ...(node ? { memoryUsage } : {}) }
    },
  }
}

/** A port free on 127.0.0.1 at this moment. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() =>
        address !== null && typeof address !== 'string'
          ? resolve(address.port)
          : reject(new Error('no port')),
      )
    })
  })
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/** Debian installs it in /usr/sbin, which is not on every user's PATH. */
function mosquittoPath(): string | undefined {
  for (const candidate of ['mosquitto', '/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto']) {
    if (spawnSync(candidate, ['-h'], { stdio: 'ignore' }).error === undefined) return candidate
  }
  return undefined
}

export function mosquittoVersion(): string | undefined {
  const path = mosquittoPath()
  if (path === undefined) return undefined
  const out = spawnSync(path, ['-h'], { encoding: 'utf8' })
  return /mosquitto version (\S+)/.exec(`${out.stdout}${out.stderr}`)?.[1]
}

/**
 * Mosquitto with a minimal config: one loopback listener, anonymous clients, queues
 * large enough that the throughput scenarios measure speed rather than its drop policy,
 * and the default in-flight window of 20.
 */
const mosquitto: BrokerLauncher = {
  name: 'mosquitto',
  unavailable: () =>
    mosquittoPath() === undefined ? 'mosquitto is not installed (sudo apt-get install mosquitto)' : undefined,
  async start(options: StartOptions = {}) {
    const path = mosquittoPath()
    if (path === undefined) throw new Error('mosquitto is not installed')
    const port = await freePort()
    const dir = mkdtempSync(join(tmpdir(), 'tinymqtt-bench-mosquitto-'))
    const cleanup = trackTempDir(dir)
    const config = join(dir, 'mosquitto.conf')
    writeFileSync(
      config,
      [
        `listener ${port} 127.0.0.1`,
        'allow_anonymous true',
        ...(options.dataDir === undefined
          ? ['persistence false']
          : ['persistence true', `persistence_location ${options.dataDir}/`, 'autosave_interval 0']),
        'max_queued_messages 1000000',
        'max_inflight_messages 20',
        'log_dest stderr',
        'log_type error',
        'log_type warning',
        '',
      ].join('\n'),
    )
    const child = spawnPinned(BROKER_CORE, path, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] })
    const stderr = captureOutput(child)
    const deadline = Date.now() + START_TIMEOUT_MS
    while (!(await accepts(port))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await stopChild(child)
        cleanup()
        throw new BrokerStartError(`mosquitto did not start: ${stderr()}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    return {
      name: 'mosquitto',
      pid: pidOf(child),
      port,
      async stop() {
        await stopChild(child)
        await waitExit(child, 1000)
        cleanup()
      },
    }
  },
}

const nodeEntry =
  (entry: string, flags: readonly string[] = []) =>
  (): [string, string[]] => [
    process.execPath,
    [...flags, '--import', 'tsx', join(REPO_ROOT, 'scripts/bench', entry), '0'],
  ]

// With the V8 flags `tinymqtt` and `npm start` run with (src/node-flags.ts).
const tinymqtt = announcingBroker('tinymqtt', nodeEntry('serve-tinymqtt.ts', NODE_FLAGS))

/** tinymqtt with its scripting host loading the scripts in `dir`. */
export function tinymqttWithScripts(dir: string): BrokerLauncher {
  const [file, args] = nodeEntry('serve-tinymqtt.ts', NODE_FLAGS)()
  return announcingBroker('tinymqtt', () => [file, [...args, dir]])
}
const aedes = announcingBroker('aedes', nodeEntry('serve-aedes.ts'))

/** Longest a C sink lives, whatever happens to the run. */
const SINK_MAX_SECONDS = 600

/** The sink for the generator self-check: the C one when it was built, else the Node one. */
export function sinkLauncher(nativeBinary: string | undefined): BrokerLauncher {
  return nativeBinary === undefined
    ? announcingBroker('sink', nodeEntry('serve-sink.ts'))
    : announcingBroker('sink', () => [nativeBinary, ['sink', '0', String(SINK_MAX_SECONDS)]])
}

/**
 * A Node server that only answers the handshakes (serve-floor.ts), with tinymqtt's V8 flags:
 * what Node's own per-socket work costs, beside tinymqtt in the connection scenarios.
 */
const nodeFloor: BrokerLauncher = {
  ...announcingBroker('node-floor', nodeEntry('serve-floor.ts', NODE_FLAGS)),
  only: ['storm', 'memory'],
}

export const BROKERS: readonly BrokerLauncher[] = [tinymqtt, mosquitto, aedes, nodeFloor]

/** The launchers for `names` that can run here; the others are reported with how to fix it. */
export function chooseBrokers(names: readonly BrokerName[]): BrokerLauncher[] {
  const chosen: BrokerLauncher[] = []
  for (const launcher of BROKERS) {
    if (!names.includes(launcher.name)) continue
    const why = launcher.unavailable()
    if (why === undefined) chosen.push(launcher)
    else console.log(`skipping ${launcher.name}: ${why}`)
  }
  return chosen
}
