/** Helpers for the store tests: temp data directories and MQTT.js clients that see every message. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type IClientOptions, type IConnackPacket, type IPublishPacket, type MqttClient } from 'mqtt'
import { MemoryStore, type Store } from '../src/index.ts'
import { type Cleanup, Inbox, TIMEOUT, withTimeout } from './helpers.ts'

/**
 * A store that hands everything to an in-memory one: a test overrides what it wants to change
 * (its commits, whether it counts as durable).
 */
export class WrappedStore implements Store {
  protected readonly inner = new MemoryStore()
  readonly durable: boolean = false
  load: Store['load'] = () => this.inner.load()
  putRetained: Store['putRetained'] = (m) => this.inner.putRetained(m)
  putSession: Store['putSession'] = (s) => this.inner.putSession(s)
  deleteSession: Store['deleteSession'] = (id) => this.inner.deleteSession(id)
  putMessage: Store['putMessage'] = (id, m) => this.inner.putMessage(id, m)
  deleteMessage: Store['deleteMessage'] = (id, seq) => this.inner.deleteMessage(id, seq)
  putIncomingQos2: Store['putIncomingQos2'] = (id, n) => this.inner.putIncomingQos2(id, n)
  deleteIncomingQos2: Store['deleteIncomingQos2'] = (id, n) => this.inner.deleteIncomingQos2(id, n)
  loadScriptStates: Store['loadScriptStates'] = () => this.inner.loadScriptStates()
  putScriptState: Store['putScriptState'] = (name, json) => this.inner.putScriptState(name, json)
  close: Store['close'] = () => this.inner.close()
  flush(): Promise<void> {
    return this.inner.flush()
  }
}

/** A fresh data directory, removed after the test. */
export function tempDataDir(t: Cleanup, prefix = 'tinymqtt-data-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

export interface Connected {
  client: MqttClient
  inbox: Inbox
  /** The PUBLISH packets as MQTT.js decoded them (with MQTT 5 properties), in arrival order. */
  packets: IPublishPacket[]
  sessionPresent: boolean
}

/**
 * Connects with MQTT.js, collecting messages from before CONNACK is seen (a resumed session's
 * queue arrives right behind it).
 */
export async function connectCollecting(port: number, opts: IClientOptions, t?: Cleanup): Promise<Connected> {
  const client = mqtt.connect({
    host: '127.0.0.1',
    port,
    reconnectPeriod: 0,
    connectTimeout: TIMEOUT,
    ...opts,
  })
  t?.after(() => client.end(true))
  const inbox = new Inbox(client)
  const packets: IPublishPacket[] = []
  client.on('message', (_topic, _payload, packet) => packets.push(packet))
  const connack = await withTimeout(
    new Promise<IConnackPacket>((resolve, reject) => {
      client.once('connect', resolve)
      client.once('error', reject)
      client.once('close', () => reject(new Error('connection closed before CONNACK')))
    }),
    'CONNACK',
  )
  client.on('error', () => {})
  return { client, inbox, packets, sessionPresent: connack.sessionPresent }
}

/** Ends an MQTT.js client cleanly (DISCONNECT), waiting until it is closed. */
export function endClient(client: MqttClient): Promise<void> {
  return withTimeout(new Promise<void>((resolve) => client.end(false, {}, () => resolve())), 'client end')
}
