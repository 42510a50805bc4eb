// Which acknowledgements wait for a durable store's commit: SUBACK for a subscription that
// changes what is stored waits; one for a client that resumes its session and subscribes again
// as before does not (a restored reconnect storm was bounded by the commit latency otherwise).
// And the batched write of those records never throws out of the event loop.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type Store, startBroker } from '../src/index.ts'
import { ackId, DISCONNECT, PT, RawClient, subscribe, until } from './helpers.ts'
import { WrappedStore } from './store-helpers.ts'

/** A durable store whose commits wait while the gate is closed. */
class GatedStore extends WrappedStore {
  override readonly durable = true
  private gate: Promise<void> | undefined
  private opener: (() => void) | undefined

  hold(): void {
    this.gate = new Promise((resolve) => {
      this.opener = resolve
    })
  }

  release(): void {
    this.opener?.()
    this.gate = undefined
  }

  override async flush(): Promise<void> {
    await this.gate
    await this.inner.flush()
  }
}

test('a resumed session subscribing again as before gets SUBACK without waiting for a commit; a new subscription waits for it', async (t) => {
  const store = new GatedStore()
  const broker = await startBroker({ port: 0, host: '127.0.0.1', store, logLevel: 'silent' })
  t.after(() => broker.close())
  const spec = { clientId: 'back', clean: false }
  const first = await RawClient.connect(broker.port, spec, t)
  await first.client.send(subscribe(1, [{ topic: 'a/#', qos: 1 }]))
  await first.client.expect(PT.SUBACK)
  await first.client.send(DISCONNECT)
  await first.client.waitClosed()

  // Nothing commits from here until the gate opens.
  store.hold()
  const again = await RawClient.connect(broker.port, spec, t)
  assert.equal(again.connack.sessionPresent, true)
  await again.client.send(subscribe(2, [{ topic: 'a/#', qos: 1 }]))
  const before = await again.client.pingBarrier()
  assert.deepEqual(
    before.map((p) => [p.type, ackId(p)]),
    [[PT.SUBACK, 2]],
    'SUBACK for the unchanged subscription comes before the PINGRESP that follows it',
  )

  await again.client.send(subscribe(3, [{ topic: 'b/#', qos: 1 }]))
  assert.deepEqual(await again.client.pingBarrier(), [], 'SUBACK for a new subscription waits for the commit')
  store.release()
  assert.equal(ackId(await again.client.expect(PT.SUBACK)), 3)
})

/** A durable store whose session writes throw once `broken` is set, as a closed LMDB file does. */
class BreakingStore extends WrappedStore {
  override readonly durable = true
  broken = false
  sessionWrites = 0
  override putSession: Store['putSession'] = (meta) => {
    this.sessionWrites++
    if (this.broken) throw new Error('The environment is already closed.')
    this.inner.putSession(meta)
  }
}

test("a session's record that cannot be written as its client goes is logged; the broker goes on", async (t) => {
  const store = new BreakingStore()
  const broker = await startBroker({ port: 0, host: '127.0.0.1', store, logLevel: 'silent' })
  t.after(() => broker.close())
  const first = await RawClient.connect(broker.port, { clientId: 'leaving', clean: false }, t)
  await first.client.send(subscribe(1, [{ topic: 'a/#', qos: 1 }]))
  await first.client.expect(PT.SUBACK)
  store.broken = true
  const before = store.sessionWrites
  // Written later, from a timer (noteSession): a throw there would leave the event loop.
  await first.client.send(DISCONNECT)
  await first.client.waitClosed()
  await until(() => store.sessionWrites > before, 'the write of the departed session')
  store.broken = false
  const other = await RawClient.connect(broker.port, { clientId: 'other' }, t)
  assert.equal(other.connack.returnCode, 0)
})
