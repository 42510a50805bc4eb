/**
 * A real nats-server with JetStream for the cluster tests: started on a free port with its
 * store in a temp dir, restartable on the same port and store, stopped when the test ends.
 * Without the binary the tests are skipped with the reason, except under CI=true, where a
 * missing nats-server is a failure (as with mosquitto in tools.ts / tls-helpers.ts).
 * Timeouts here are failure guards only, never assertions about speed.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { NatsConnection } from '../src/cluster/nats-connection.ts'
import { type Broker, type StartOptions, startBroker } from '../src/index.ts'
import { settleWithin } from '../src/util/settle-within.ts'
import { type Cli, loggedPort, runCli } from './cli-process.ts'
import { freePort, mqttConnect } from './helpers.ts'
import { type Cleanup, locate, requireCommand } from './tls-helpers.ts'

const GUARD_MS = 30_000

/** The skip reason for node:test when nats-server is missing (throws under CI=true). */
export function natsServerMissing(): Promise<string | false> {
  return requireCommand('nats-server', 'nats-server')
}

export interface NatsServer {
  readonly port: number
  readonly url: string
  /** The server's output so far, for failure messages. */
  output(): string
  /** SIGKILL (no clean shutdown) or SIGTERM; resolves once the process is gone. */
  stop(signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>
  /** Starts it again on the same port and store directory; resolves once it accepts clients. */
  start(): Promise<void>
}

/**
 * Starts `nats-server -js` on a free 127.0.0.1 port, with `extraArgs` (auth, TLS) appended;
 * stopped (SIGKILL) when the test ends.
 */
export async function startNatsServer(t: Cleanup, extraArgs: string[] = []): Promise<NatsServer> {
  const binary = await locate('nats-server')
  if (!binary) throw new Error('nats-server not installed (call natsServerMissing() first)')
  // Removed after the server is stopped: a running server writes into it while rm walks it.
  const storeDir = await mkdtemp(join(tmpdir(), 'tinymqtt-nats-'))
  const port = await freePort()
  let child: ChildProcess | undefined
  let output = ''

  const start = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const proc = spawn(
        binary,
        ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir, ...extraArgs],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      )
      child = proc
      const timer = setTimeout(() => {
        reject(new Error(`nats-server did not become ready; output:\n${output}`))
      }, GUARD_MS)
      const onData = (d: Buffer): void => {
        output += d.toString()
        if (output.includes('Server is ready')) {
          clearTimeout(timer)
          resolve()
        }
      }
      proc.stdout?.on('data', onData)
      proc.stderr?.on('data', onData)
      proc.once('exit', (code, signal) => {
        clearTimeout(timer)
        reject(new Error(`nats-server exited (${code ?? signal}) before it was ready; output:\n${output}`))
      })
    })

  const stop = (signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> => {
    const proc = child
    child = undefined
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve()
    return new Promise<void>((resolve) => {
      proc.once('exit', () => resolve())
      proc.kill(signal)
    })
  }

  t.after(async () => {
    await stop('SIGKILL')
    await rm(storeDir, { recursive: true, force: true, maxRetries: 5 })
  })
  // Each start gets a fresh "ready" line to wait for.
  const startFresh = (): Promise<void> => {
    output = ''
    return start()
  }
  await startFresh()
  return { port, url: `nats://127.0.0.1:${port}`, output: () => output, stop, start: startFresh }
}

/**
 * Cleanups that run last-registered first, so nodes close before the nats-server they use is
 * stopped (node:test runs `after` hooks in the order added; a node closing against a dead
 * server waits for its drain to time out). Call it before startNatsServer.
 */
export function stack(t: Cleanup): Cleanup {
  const fns: (() => unknown)[] = []
  t.after(async () => {
    // Each step is given GUARD_MS: one that hangs is reported and the rest still run, so the
    // nats-server and the other nodes are stopped either way.
    const hung: string[] = []
    for (const fn of fns.reverse()) {
      const result = await settleWithin(Promise.resolve().then(fn), GUARD_MS)
      if (!result.done) hung.push(String(fn).slice(0, 80))
    }
    if (hung.length > 0)
      throw new Error(`cleanup steps did not finish within ${GUARD_MS} ms: ${hung.join(' | ')}`)
  })
  return { after: (fn) => fns.push(fn) }
}

/** A connection to the nats-server at `url`, as a node makes one; closed after the test. */
export async function natsConnection(t: Cleanup, url: string, name?: string): Promise<NatsConnection> {
  const conn = new NatsConnection({ servers: [url], ...(name !== undefined ? { name } : {}) })
  await conn.connect()
  t.after(() => conn.close())
  return conn
}

/** A cluster node in this process on a free port, named `id`, with `extra` options; closed after the test. */
export async function node(
  t: Cleanup,
  url: string,
  id: string,
  extra: Partial<StartOptions> = {},
): Promise<Broker> {
  const broker = await startBroker({
    port: 0,
    host: '127.0.0.1',
    logLevel: 'silent',
    cluster: { servers: [url], node: id },
    ...extra,
  })
  t.after(() => broker.close())
  return broker
}

/**
 * A nats-server and cluster nodes `a` and `b` on it; `s` takes the test's other cleanups, run
 * before the nodes close and the server stops.
 */
export async function twoNodes(t: Cleanup): Promise<{ s: Cleanup; nats: NatsServer; a: Broker; b: Broker }> {
  const s = stack(t)
  const nats = await startNatsServer(t)
  const a = await node(s, nats.url, 'a')
  const b = await node(s, nats.url, 'b')
  return { s, nats, a, b }
}

/** As twoNodes, with b's link to NATS through a relay (below) that the test can cut and restore. */
export async function twoNodesOneRelayed(t: Cleanup): Promise<{
  s: Cleanup
  nats: NatsServer
  link: Awaited<ReturnType<typeof relay>>
  a: Broker
  b: Broker
}> {
  const s = stack(t)
  const nats = await startNatsServer(t)
  const link = await relay(s, nats.port)
  const a = await node(s, nats.url, 'a')
  const b = await node(s, link.url, 'b')
  return { s, nats, link, a, b }
}

/** A client of `broker` subscribed to `will/#`: the list it fills with `topic=payload`. */
export async function willWatcher(t: Cleanup, broker: Broker, clientId: string): Promise<string[]> {
  const c = await mqttConnect(broker.port, { clientId }, t)
  const got: string[] = []
  c.on('message', (topic, payload) => got.push(`${topic}=${payload}`))
  await c.subscribeAsync('will/#', { qos: 1 })
  return got
}

/**
 * A cluster node as a CLI child process (one a test can kill -9), joined to the NATS server at
 * `url`, on MQTT port `mqttPort` (default: any free one; its node id is the host name and the
 * port); stopped when the test ends.
 */
export async function cliNode(
  t: Cleanup,
  url: string,
  label: string,
  mqttPort = 0,
): Promise<{ cli: Cli; port: number }> {
  const cli = runCli(['--port', String(mqttPort), '--cluster', url], t)
  const port = await loggedPort(cli, 'MQTT listener started')
  await cli.waitForLog((l) => l.msg === 'joined the cluster', `node ${label} to join`)
  return { cli, port }
}

/**
 * A TCP relay to the nats-server that a test can cut (every connection through it dropped,
 * new ones refused) and restore on the same port: one node's link to NATS, and only its.
 */
export async function relay(
  t: Cleanup,
  natsPort: number,
): Promise<{ url: string; cut(): Promise<void>; restore(): Promise<void> }> {
  const port = await freePort()
  const sockets = new Set<net.Socket>()
  let server: net.Server | undefined
  const listen = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = net.createServer((inbound) => {
        const outbound = net.connect({ port: natsPort, host: '127.0.0.1' })
        for (const sock of [inbound, outbound]) {
          sockets.add(sock)
          sock.on('error', () => undefined)
          sock.on('close', () => {
            sockets.delete(sock)
            inbound.destroy()
            outbound.destroy()
          })
        }
        inbound.pipe(outbound)
        outbound.pipe(inbound)
      })
      s.once('error', reject)
      s.listen(port, '127.0.0.1', () => resolve())
      server = s
    })
  const cut = async (): Promise<void> => {
    const s = server
    server = undefined
    for (const sock of sockets) sock.destroy()
    await new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()))
  }
  t.after(cut)
  await listen()
  return { url: `nats://127.0.0.1:${port}`, cut, restore: listen }
}

/**
 * `topic payload` of each PUBLISH `c` receives, in wire order (MQTT.js hands a QoS 2 message
 * to 'message' only at PUBREL, after a later QoS 1 one).
 */
export function received(c: MqttClient): string[] {
  const got: string[] = []
  c.on('packetreceive', (packet) => {
    if (packet.cmd === 'publish') got.push(`${packet.topic} ${packet.payload.toString()}`)
  })
  return got
}
