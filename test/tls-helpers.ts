/**
 * Helpers for the access and listener tests: certificates made with the openssl CLI in a temp
 * dir, an in-memory pino log, MQTT.js connections that report the CONNACK code, and guards.
 * Timeouts here are failure guards only, never assertions about speed.
 */
import { execFile } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { type Logger, pino } from 'pino'

export const GUARD_MS = 30_000

const run = promisify(execFile)

export interface Cleanup {
  after(fn: () => unknown): void
}

/** A temp dir removed after the test. */
export async function tempDir(t: Cleanup, prefix = 'tinymqtt-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/**
 * The path a command runs from: as given (PATH), or from an sbin directory, where Debian puts
 * `mosquitto` and which a non-root PATH often lacks. Undefined when it is not installed.
 */
export async function locate(command: string): Promise<string | undefined> {
  for (const candidate of [command, `/usr/sbin/${command}`, `/usr/local/sbin/${command}`]) {
    try {
      await run(candidate, ['--help'], { timeout: GUARD_MS })
      return candidate
    } catch (error) {
      // Exiting non-zero on --help is fine; only a missing binary is not.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return candidate
    }
  }
  return undefined
}

/** The skip reason for node:test when a tool is missing, or a thrown error under CI=true. */
export async function requireCommand(command: string, packageName: string): Promise<string | false> {
  if (await locate(command)) return false
  const reason = `${command} not installed (apt-get install ${packageName})`
  if (process.env.CI === 'true') throw new Error(`${reason}; required under CI=true`)
  return reason
}

export interface Pki {
  dir: string
  caCert: string
  serverCert: string
  serverKey: string
  /** Signed by the CA, CN=device-1. */
  clientCert: string
  clientKey: string
  /** Self-signed, CN=intruder: not trusted by the CA. */
  rogueCert: string
  rogueKey: string
}

/** A CA, a server certificate for localhost/127.0.0.1 and two client certificates. */
export async function makePki(dir: string): Promise<Pki> {
  const p = (name: string): string => join(dir, name)
  const openssl = (...args: string[]): Promise<unknown> =>
    run('openssl', args, { cwd: dir, timeout: GUARD_MS * 2 })
  const key = (name: string): Promise<unknown> =>
    openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-keyout',
      p(`${name}.key`),
      '-out',
      p(`${name}.crt`),
      '-subj',
      `/CN=${name}`,
    )
  await Promise.all([key('ca'), key('intruder')])
  await writeFile(p('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n')
  const signed = async (name: string, cn: string, ext?: string): Promise<void> => {
    await openssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      p(`${name}.key`),
      '-out',
      p(`${name}.csr`),
      '-subj',
      `/CN=${cn}`,
    )
    await openssl(
      'x509',
      '-req',
      '-in',
      p(`${name}.csr`),
      '-CA',
      p('ca.crt'),
      '-CAkey',
      p('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      p(`${name}.crt`),
      ...(ext ? ['-extfile', p(ext)] : []),
    )
  }
  await signed('server', 'localhost', 'server.ext')
  await signed('client', 'device-1')
  return {
    dir,
    caCert: p('ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    rogueCert: p('intruder.crt'),
    rogueKey: p('intruder.key'),
  }
}

export interface LogRecord {
  level: number
  msg?: string
  [key: string]: unknown
}

/** A pino logger writing into memory, with a wait for a matching record. */
export class MemoryLog extends EventEmitter {
  readonly records: LogRecord[] = []
  readonly logger: Logger = pino(
    { level: 'debug' },
    {
      write: (line: string): void => {
        for (const part of line.split('\n')) {
          if (part.trim() === '') continue
          const record = JSON.parse(part) as LogRecord
          this.records.push(record)
          this.emit('record', record)
        }
      },
    },
  )

  /** Resolves with the first record (already logged or future) whose msg includes `text` and passes `where`. */
  waitFor(
    text: string,
    where: (r: LogRecord) => boolean = () => true,
    guardMs = GUARD_MS,
  ): Promise<LogRecord> {
    const match = (r: LogRecord): boolean => (r.msg ?? '').includes(text) && where(r)
    const found = this.records.find(match)
    if (found) return Promise.resolve(found)
    return new Promise((resolve, reject) => {
      const onRecord = (r: LogRecord): void => {
        if (!match(r)) return
        clearTimeout(timer)
        this.off('record', onRecord)
        resolve(r)
      }
      const timer = setTimeout(() => {
        this.off('record', onRecord)
        reject(
          new Error(
            `no log "${text}" within ${guardMs} ms; got:\n${this.records.map((r) => r.msg).join('\n')}`,
          ),
        )
      }, guardMs)
      this.on('record', onRecord)
    })
  }

  count(text: string): number {
    return this.records.filter((r) => (r.msg ?? '').includes(text)).length
  }
}

/** Rejects when `promise` does not settle in time: a guard against hanging, not a measurement. */
export function guard<T>(promise: Promise<T>, what: string, ms = GUARD_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** The outcome of an MQTT.js connection attempt: connected (closed after the test) or refused. */
export type Attempt = { ok: true; client: MqttClient } | { ok: false; code: number | undefined; error: Error }

/** Connects once (no reconnects); the client is ended after the test. */
export function attempt(t: Cleanup, url: string, options: IClientOptions = {}): Promise<Attempt> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: GUARD_MS, ...options })
  t.after(() => client.endAsync(true))
  return guard(
    new Promise<Attempt>((resolve) => {
      client.once('connect', () => resolve({ ok: true, client }))
      client.once('error', (error: Error & { code?: number | string }) => {
        resolve({ ok: false, code: typeof error.code === 'number' ? error.code : undefined, error })
      })
      client.once('close', () =>
        resolve({ ok: false, code: undefined, error: new Error('closed before CONNACK') }),
      )
    }),
    `connection to ${url}`,
  )
}

/** Connects or throws with the reason. */
export async function connect(t: Cleanup, url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const result = await attempt(t, url, options)
  if (!result.ok) throw new Error(`connection to ${url} failed: ${result.error.message}`)
  return result.client
}

/** The next message on `topic` received by `client`. */
export function nextMessage(client: MqttClient, topic?: string): Promise<{ topic: string; payload: string }> {
  return guard(
    new Promise((resolve) => {
      const onMessage = (received: string, payload: Buffer): void => {
        if (topic !== undefined && received !== topic) return
        client.off('message', onMessage)
        resolve({ topic: received, payload: payload.toString() })
      }
      client.on('message', onMessage)
    }),
    `a message${topic ? ` on ${topic}` : ''}`,
  )
}

/** Collects every message `client` receives. */
export function collect(client: MqttClient): { topic: string; payload: string }[] {
  const seen: { topic: string; payload: string }[] = []
  client.on('message', (topic, payload) => seen.push({ topic, payload: payload.toString() }))
  return seen
}

/**
 * A marker round trip: publishes `marker` on `topic` and waits for it at `receiver`. Messages
 * published by the same clients before it have been routed by then (one broker, in order),
 * so a test can assert that something did NOT arrive without sleeping.
 */
export async function barrier(sender: MqttClient, receiver: MqttClient, topic: string): Promise<void> {
  const arrived = nextMessage(receiver, topic)
  await sender.publishAsync(topic, 'barrier', { qos: 1 })
  await arrived
}

/**
 * The SUBACK return codes for `filters`, failures included (MQTT.js rejects a SUBACK with any
 * failure code; the codes are on the error's packet).
 */
export async function subackCodes(
  client: MqttClient,
  filters: string[] | Record<string, { qos: 0 | 1 | 2 }>,
  qos: 0 | 1 | 2 = 0,
): Promise<number[]> {
  try {
    const granted = await guard(client.subscribeAsync(filters as string[], { qos }), 'a SUBACK')
    return granted.map((g) => g.qos)
  } catch (error) {
    const packet = (error as { packet?: { granted?: (number | { qos: number })[] } }).packet
    if (!packet?.granted) throw error
    return packet.granted.map((g) => (typeof g === 'number' ? g : g.qos))
  }
}
