/**
 * The processes of the cluster suite: nats-server and tinymqtt nodes started from the command
 * line, each ready once its log says so, and nats-server's monitoring figures (/varz).
 */
import { type ChildProcess, spawnSync } from 'node:child_process'
import { NODE_FLAGS } from '../../../src/node-flags.ts'
import { freePort, REPO_ROOT } from '../brokers.ts'
import { pidOf, spawnPinned, stopChild } from '../procs.ts'

const START_TIMEOUT_MS = 30_000

export interface Proc {
  child: ChildProcess
  pid: number
  /** Output so far (bounded), for a failure message. */
  output(): string
}

export interface Node extends Proc {
  name: string
  port: number
}

/** Spawns `command` and resolves once its output matches `ready`; its output keeps being read. */
export async function startProc(name: string, command: string, args: string[], ready: RegExp): Promise<Proc> {
  const child = spawnPinned(undefined, command, args, {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let text = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => fail(new Error(`${name} not ready within ${START_TIMEOUT_MS} ms:\n${text}`)),
      START_TIMEOUT_MS,
    )
    const fail = (err: Error): void => {
      clearTimeout(timer)
      void stopChild(child)
      reject(err)
    }
    // Both pipes are drained for the whole run, so a chatty process never blocks on a full pipe.
    const onData = (chunk: Buffer): void => {
      if (text.length < 8000) text += chunk.toString('utf8')
      if (ready.test(text)) {
        clearTimeout(timer)
        resolve()
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('exit', (code, signal) =>
      fail(new Error(`${name} exited (${code ?? signal}) at start:\n${text}`)),
    )
    child.once('error', fail)
  })
  return { child, pid: pidOf(child), output: () => text }
}

export async function startNode(name: string, clusterUrl: string | undefined): Promise<Node> {
  const port = await freePort()
  const args = [...NODE_FLAGS, '--import', 'tsx', 'src/cli.ts', '--host', '127.0.0.1', '--port', String(port)]
  args.push('--memory', '--sys-interval', '0', '--log-level', 'info')
  if (clusterUrl !== undefined) args.push('--cluster', clusterUrl)
  // startBroker resolves (and the CLI is up) only after the listener and, with --cluster, the join.
  const ready = clusterUrl === undefined ? /MQTT listener started/ : /joined the cluster/
  const proc = await startProc(`node ${name}`, process.execPath, args, ready)
  return { ...proc, name, port }
}

export function natsServerPath(): string | undefined {
  for (const candidate of ['nats-server', '/usr/sbin/nats-server', '/usr/local/bin/nats-server']) {
    if (spawnSync(candidate, ['--version'], { stdio: 'ignore' }).error === undefined) return candidate
  }
  return undefined
}

/** nats-server's message and byte counters (its /varz monitoring page). */
export interface NatsCounters {
  inMsgs: number
  outMsgs: number
  inBytes: number
  outBytes: number
}

const VARZ_TIMEOUT_MS = 5000

/** Reads /varz from nats-server's monitoring port; undefined when it does not answer. */
export async function natsCounters(monitorPort: number): Promise<NatsCounters | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${monitorPort}/varz`, {
      signal: AbortSignal.timeout(VARZ_TIMEOUT_MS),
    })
    const body: unknown = await res.json()
    if (typeof body !== 'object' || body === null) return undefined
    const field = (name: string): number => {
      const value: unknown = (body as Record<string, unknown>)[name]
      return typeof value === 'number' ? value : Number.NaN
    }
    return {
      inMsgs: field('in_msgs'),
      outMsgs: field('out_msgs'),
      inBytes: field('in_bytes'),
      outBytes: field('out_bytes'),
    }
  } catch {
    return undefined
  }
}

/** What nats-server carried between two readings, per `per` (NaN where a reading is missing). */
export function countersPer(
  before: NatsCounters | undefined,
  after: NatsCounters | undefined,
  per: number,
): NatsCounters {
  const d = (key: keyof NatsCounters): number =>
    before === undefined || after === undefined ? Number.NaN : (after[key] - before[key]) / Math.max(1, per)
  return { inMsgs: d('inMsgs'), outMsgs: d('outMsgs'), inBytes: d('inBytes'), outBytes: d('outBytes') }
}
