/** Helpers for the store tests: temp data directories and MQTT.js clients that see every message. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type IClientOptions, type IConnackPacket, type IPublishPacket, type MqttClient } from 'mqtt'
import { type Cleanup, Inbox, TIMEOUT, withTimeout } from './helpers.ts'

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
