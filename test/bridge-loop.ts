// The no-loop check of a `direction: both` bridge on `sync/#`, shared by the bridge tests (a
// Mosquitto remote, a tinymqtt remote): every message arrives exactly once on each side, shown
// with markers that travel the path an echo would take, after it — no sleeps.
import assert from 'node:assert/strict'
import { type Cleanup, Inbox, mqttConnect } from './helpers.ts'

export async function assertEachMessageOnceEachSide(
  t: Cleanup,
  localPort: number,
  remotePort: number,
): Promise<void> {
  const remoteSub = await mqttConnect(remotePort, {}, t)
  const remoteInbox = new Inbox(remoteSub)
  await remoteSub.subscribeAsync('sync/#', { qos: 1 })
  const local = await mqttConnect(localPort, {}, t)
  const localInbox = new Inbox(local)
  await local.subscribeAsync('sync/#', { qos: 1 })

  await local.publishAsync('sync/a', 'from-local', { qos: 1 })
  await remoteInbox.waitFor((m) => m.payload === 'from-local')
  // A marker from the remote travels the path an echo of from-local would take, after it.
  await remoteSub.publishAsync('sync/marker', 'remote-marker', { qos: 1 })
  await localInbox.waitFor((m) => m.payload === 'remote-marker')
  await local.publishAsync('sync/b', 'local-marker', { qos: 1 })
  await remoteInbox.waitFor((m) => m.payload === 'local-marker')
  // And the other way: an echo of remote-marker back to the remote would come before this.
  await remoteSub.publishAsync('sync/c', 'final', { qos: 1 })
  await localInbox.waitFor((m) => m.payload === 'final')
  await local.publishAsync('sync/d', 'final-local', { qos: 1 })
  await remoteInbox.waitFor((m) => m.payload === 'final-local')

  const count = (inbox: Inbox, payload: string): number =>
    inbox.messages.filter((m) => m.payload === payload).length
  for (const payload of ['from-local', 'remote-marker', 'local-marker', 'final']) {
    assert.equal(count(localInbox, payload), 1, `local subscriber got ${payload} once`)
    assert.equal(count(remoteInbox, payload), 1, `remote subscriber got ${payload} once`)
  }
}
