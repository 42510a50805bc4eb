// Helpers of the tests of persistent sessions across cluster nodes: the session queue read as
// another process would, and waits on what the cluster's records and queue say.
import assert from 'node:assert/strict'
import type { IClientOptions, MqttClient } from 'mqtt'
import { clusterNames } from '../src/cluster/names.ts'
import { SessionQueue } from '../src/cluster/session-queue.ts'
import { type Broker, clusterOf } from '../src/index.ts'
import { type Cleanup, mqttConnect, until } from './helpers.ts'
import { natsConnection, received } from './nats-helpers.ts'

/** The default cluster's session queue, read from NATS as another process would. */
export async function queueReader(t: Cleanup, url: string): Promise<SessionQueue> {
  return SessionQueue.open(await natsConnection(t, url, 'queue reader'), clusterNames(), 'queue reader')
}

/** Reads what the queue says of a session until it is `expected` (a guard, not a timing). */
async function queueSays<T>(read: () => Promise<T>, expected: T, failure: (got: T) => string): Promise<void> {
  const deadline = Date.now() + 30_000
  for (;;) {
    const got = await read()
    if (got === expected) return
    assert.ok(Date.now() < deadline, failure(got))
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** How many messages the queue keeps for `clientId`, read until it is `count`. */
export async function keptBecomes(reader: SessionQueue, clientId: string, count: number): Promise<void> {
  await queueSays(
    async () => (await reader.read(clientId)).length,
    count,
    (kept) => `${clientId} still has ${kept} kept messages, expected ${count}`,
  )
}

/** The session's in-flight list in the queue, as `<packet id> <state>, …`, read until it is `expected`. */
export async function inflightBecomes(
  reader: SessionQueue,
  clientId: string,
  expected: string,
): Promise<void> {
  await queueSays(
    async () =>
      (await reader.readSession(clientId)).inflight
        .map((entry) => `${entry.messageId} ${entry.state}`)
        .join(', '),
    expected,
    (listed) => `${clientId}'s list of what is in flight is "${listed}", expected "${expected}"`,
  )
}

/** Waits until `broker` sees `clientId`'s session record with `filters` and its client gone (or not). */
export async function recordSeen(
  broker: Broker,
  clientId: string,
  filters: number,
  gone: boolean,
): Promise<void> {
  await until(
    () => {
      const record = clusterOf(broker)?.session(clientId)
      return record?.subscriptions.length === filters && (record.disconnectedAt !== undefined) === gone
    },
    `${clientId}'s record as node ${clusterOf(broker)?.nodeId} sees it`,
  )
}

/**
 * Connects `clientId`'s persistent session on `port`, waits for the `kept` messages it had
 * coming, then has `pub` publish `<topic> live` at QoS 1 and waits for that too: everything
 * the client got, in order (`<topic> <payload>`), and the client.
 */
export async function resumeThenLive(
  t: Cleanup,
  port: number,
  clientId: string,
  kept: number,
  pub: MqttClient,
  topic: string,
): Promise<{ back: MqttClient; got: string[] }> {
  const back = await mqttConnect(port, persistent(clientId), t)
  const got = received(back)
  await until(
    () => got.length >= kept,
    () => `the ${kept} messages kept for ${clientId}; got ${JSON.stringify(got)}`,
  )
  await pub.publishAsync(topic, 'live', { qos: 1 })
  await until(() => got.includes(`${topic} live`), 'a live message after them')
  return { back, got }
}

export const persistent = (clientId: string, extra: IClientOptions = {}): IClientOptions => ({
  clientId,
  clean: false,
  protocolVersion: 4,
  reconnectPeriod: 0,
  ...extra,
})
