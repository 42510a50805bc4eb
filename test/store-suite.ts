/**
 * One suite every Store backend runs (issue 6 point 7, after aedes-persistence's abstract
 * suite). A backend is given as a factory: `open()` returns a fresh store, `reopen(old)`
 * closes it and returns the store a restarted broker would get (for a durable backend: a new
 * instance reading the same directory; for the in-memory one: the same instance).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Message } from '../src/broker/types.ts'
import type { SessionMeta, Store, StoredMessage, StoredState } from '../src/store/store.ts'

export interface StoreFactory {
  name: string
  open(): Promise<Store>
  reopen(store: Store): Promise<Store>
  /** Closes and removes what open() made. */
  dispose(store: Store): Promise<void>
}

function message(topic: string, payload: string, extra: Partial<Message> = {}): Message {
  return { topic, payload: Buffer.from(payload), qos: 1, retain: false, ...extra }
}

function meta(clientId: string, filters: string[] = ['a/#']): SessionMeta {
  return {
    clientId,
    expiryInterval: 0xffffffff,
    subscriptions: filters.map((filter) => ({ filter, qos: 1 })),
  }
}

function outgoing(seq: number, payload = `m${seq}`, extra: Partial<StoredMessage> = {}): StoredMessage {
  return { seq, qos: 1, retain: false, message: message('a/b', payload), ...extra }
}

function byTopic(state: StoredState): Map<string, string> {
  return new Map(state.retained.map((m) => [m.topic, m.payload.toString()]))
}

function session(state: StoredState, clientId: string) {
  return state.sessions.find((s) => s.clientId === clientId)
}

export function storeSuite(factory: StoreFactory): void {
  describe(`store suite: ${factory.name}`, () => {
    /** Runs `body` on a fresh store, then closes and removes it. */
    async function withStore(body: (store: Store) => Promise<Store | undefined>): Promise<void> {
      let store = await factory.open()
      try {
        store = (await body(store)) ?? store
      } finally {
        await factory.dispose(store)
      }
    }

    test('a new store loads empty', () =>
      withStore(async (store) => {
        const state = await store.load()
        assert.deepEqual(state, { retained: [], sessions: [] })
        return undefined
      }))

    test('retained messages: put, replace, delete with an empty payload', () =>
      withStore(async (store) => {
        store.putRetained(message('t/1', 'one', { retain: true }))
        store.putRetained(message('t/2', 'two', { retain: true }))
        store.putRetained(message('t/1', 'one again', { retain: true }))
        store.putRetained(message('t/2', '', { retain: true }))
        await store.flush()
        const reopened = await factory.reopen(store)
        assert.deepEqual(byTopic(await reopened.load()), new Map([['t/1', 'one again']]))
        return reopened
      }))

    test('messages keep payload bytes, properties (with Buffers), expiry and publisher', () =>
      withStore(async (store) => {
        const payload = Buffer.from([0, 1, 2, 255, 0])
        const stored = message('t/bin', '', {
          payload,
          qos: 2,
          retain: true,
          clientId: 'pub',
          expiresAt: 1_900_000_000_000,
          properties: {
            payloadFormatIndicator: false,
            messageExpiryInterval: 60,
            contentType: 'application/octet-stream',
            responseTopic: 'reply/here',
            correlationData: Buffer.from([9, 8, 7]),
            userProperties: { a: '1', b: ['2', '3'] },
          },
        })
        store.putRetained(stored)
        store.putSession(meta('c1'))
        const put = {
          seq: 1,
          qos: 2 as const,
          retain: true,
          message: stored,
          subscriptionIds: [4, 5],
          clusterKey: 'origin-token.42',
        }
        store.putMessage('c1', put)
        await store.flush()
        const reopened = await factory.reopen(store)
        const state = await reopened.load()
        const [retained] = state.retained
        assert.ok(retained)
        assert.ok(Buffer.isBuffer(retained.payload))
        assert.deepEqual(retained, stored)
        assert.ok(Buffer.isBuffer(retained.properties?.correlationData))
        const [entry] = session(state, 'c1')?.messages ?? []
        assert.deepEqual(entry, put)
        return reopened
      }))

    test('session meta: subscriptions with their options, replaced by a later put', () =>
      withStore(async (store) => {
        store.putSession(meta('c1', ['x']))
        const later: SessionMeta = {
          clientId: 'c1',
          expiryInterval: 300,
          subscriptions: [
            {
              filter: 'a/+',
              qos: 2,
              noLocal: true,
              retainAsPublished: true,
              retainHandling: 1,
              identifier: 7,
            },
            { filter: '$share/g/b', qos: 0 },
          ],
        }
        store.putSession(later)
        store.putSession(meta('c2'))
        await store.flush()
        const reopened = await factory.reopen(store)
        const state = await reopened.load()
        assert.equal(state.sessions.length, 2)
        const c1 = session(state, 'c1')
        assert.deepEqual(c1, { ...later, messages: [], incomingQos2: [] })
        return reopened
      }))

    test('outgoing messages come back in seq order, with packet ids and state', () =>
      withStore(async (store) => {
        store.putSession(meta('c1'))
        // Put out of order, across the 255/256 and 65535/65536 boundaries of the key bytes.
        for (const seq of [300, 2, 65_536, 1, 256, 255, 70_000]) store.putMessage('c1', outgoing(seq))
        store.putMessage('c1', outgoing(2, 'm2', { messageId: 17, state: 'publish' }))
        store.putMessage('c1', outgoing(1, 'm1', { qos: 2, messageId: 16, state: 'pubrel' }))
        store.deleteMessage('c1', 300)
        await store.flush()
        const reopened = await factory.reopen(store)
        const [c1] = (await reopened.load()).sessions
        assert.deepEqual(
          c1?.messages.map((m) => m.seq),
          [1, 2, 255, 256, 65_536, 70_000],
        )
        assert.deepEqual(c1?.messages[0], outgoing(1, 'm1', { qos: 2, messageId: 16, state: 'pubrel' }))
        assert.deepEqual(c1?.messages[1], outgoing(2, 'm2', { messageId: 17, state: 'publish' }))
        assert.equal(c1?.messages[2]?.messageId, undefined)
        return reopened
      }))

    test('incoming QoS 2 ids: added, released', () =>
      withStore(async (store) => {
        store.putSession(meta('c1'))
        for (const id of [1, 2, 65_535]) store.putIncomingQos2('c1', id)
        store.deleteIncomingQos2('c1', 2)
        await store.flush()
        const reopened = await factory.reopen(store)
        const [c1] = (await reopened.load()).sessions
        assert.deepEqual(
          [...(c1?.incomingQos2 ?? [])].sort((a, b) => a - b),
          [1, 65_535],
        )
        return reopened
      }))

    test('deleting a session removes its messages and QoS 2 ids, and only its own', () =>
      withStore(async (store) => {
        // "c" and "c1" share a prefix: deleting one must not touch the other.
        for (const id of ['c', 'c1']) {
          store.putSession(meta(id))
          store.putMessage(id, outgoing(1, `${id}-1`))
          store.putMessage(id, outgoing(2, `${id}-2`, { messageId: 5, state: 'publish' }))
          store.putIncomingQos2(id, 9)
        }
        await store.flush()
        store.deleteSession('c')
        // A message journaled for a session that is gone is not kept.
        store.putMessage('c', outgoing(3))
        await store.flush()
        let current = await factory.reopen(store)
        const state = await current.load()
        assert.deepEqual(
          state.sessions.map((s) => s.clientId),
          ['c1'],
        )
        assert.deepEqual(
          state.sessions[0]?.messages.map((m) => m.message.payload.toString()),
          ['c1-1', 'c1-2'],
        )
        assert.deepEqual(state.sessions[0]?.incomingQos2, [9])
        // A new session under the deleted id starts empty.
        current.putSession(meta('c'))
        await current.flush()
        current = await factory.reopen(current)
        assert.deepEqual(session(await current.load(), 'c')?.messages, [])
        return current
      }))

    test('a session deleted and recreated in the same turn keeps only the new writes', () =>
      withStore(async (store) => {
        store.putSession(meta('c1'))
        store.putMessage('c1', outgoing(1, 'old'))
        store.deleteSession('c1')
        store.putSession(meta('c1', ['new/#']))
        store.putMessage('c1', outgoing(1, 'new'))
        await store.flush()
        const reopened = await factory.reopen(store)
        const [c1] = (await reopened.load()).sessions
        assert.deepEqual(c1?.subscriptions, [{ filter: 'new/#', qos: 1 }])
        assert.deepEqual(
          c1?.messages.map((m) => m.message.payload.toString()),
          ['new'],
        )
        return reopened
      }))

    test('long topics and client ids are stored and told apart', () =>
      withStore(async (store) => {
        const long = (c: string) => `${c.repeat(3000)}`
        store.putRetained(message(`t/${long('x')}`, 'x', { retain: true }))
        store.putRetained(message(`t/${long('y')}`, 'y', { retain: true }))
        store.putSession(meta(long('a')))
        store.putSession(meta(long('b')))
        store.putMessage(long('a'), outgoing(1, 'for a'))
        await store.flush()
        const reopened = await factory.reopen(store)
        const state = await reopened.load()
        assert.deepEqual([...byTopic(state).values()].sort(), ['x', 'y'])
        assert.equal(session(state, long('a'))?.messages[0]?.message.payload.toString(), 'for a')
        assert.deepEqual(session(state, long('b'))?.messages, [])
        return reopened
      }))

    test('reopening returns the same state, twice', () =>
      withStore(async (store) => {
        store.putRetained(message('r', 'kept', { retain: true }))
        store.putSession(meta('c1'))
        store.putMessage('c1', outgoing(1))
        store.putIncomingQos2('c1', 3)
        await store.flush()
        const first = await store.load()
        let current = await factory.reopen(store)
        assert.deepEqual(await current.load(), first)
        current = await factory.reopen(current)
        assert.deepEqual(await current.load(), first)
        return current
      }))

    test('flush with nothing written resolves; load after writes sees them', () =>
      withStore(async (store) => {
        await store.flush()
        await store.load()
        store.putRetained(message('late', 'v', { retain: true }))
        await store.flush()
        assert.deepEqual(byTopic(await store.load()), new Map([['late', 'v']]))
        return undefined
      }))

    test("scripts' remembered state is kept by name, replaced, deleted, and apart from the rest", () =>
      withStore(async (store) => {
        const longName = `${'n'.repeat(1500)}.js`
        store.putScriptState('a.js', '{"n":1}')
        store.putScriptState('b.js', '{"x":"y"}')
        store.putScriptState('a.js', '{"n":2}')
        store.putScriptState(longName, '{}')
        store.putRetained(message('r', 'kept', { retain: true }))
        await store.flush()
        const reopened = await factory.reopen(store)
        const expected = new Map([
          ['a.js', '{"n":2}'],
          ['b.js', '{"x":"y"}'],
          [longName, '{}'],
        ])
        assert.deepEqual(await reopened.loadScriptStates(), expected)
        assert.deepEqual(byTopic(await reopened.load()), new Map([['r', 'kept']]))
        reopened.putScriptState('b.js', undefined)
        await reopened.flush()
        expected.delete('b.js')
        assert.deepEqual(await reopened.loadScriptStates(), expected)
        return reopened
      }))
  })
}
