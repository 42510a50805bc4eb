import { topicNameError } from '../broker/topic-rules.ts'
import { CONSOLE_PRELUDE_SOURCE } from './guest-console.ts'
import { FETCH_PRELUDE } from './guest-fetch-prelude.ts'
/**
 * Guest-side half of the script API, evaluated in every VM before the script. Argument
 * checking, payload conversion and console formatting happen here, inside the sandbox,
 * so the host exposes only a few primitive functions and never walks guest objects.
 * The primitives arrive as an argument and are not reachable from globalThis.
 */
import { SORT_PRELUDE_SOURCE } from './guest-sort.ts'
import { STATE_PRELUDE_SOURCE } from './guest-state.ts'
import { GUEST_TEXT_PRELUDE } from './guest-text.ts'
import { DISPATCH, DRAINED, FLAG, GUEST_PUBLISH, NONE, recordSource } from './wire-formats.ts'

// The packed layouts the prelude shares with the host, spelled out as literals in its source:
// QuickJS has no JIT, so a property lookup per slot would cost on every message.
const D = DISPATCH
const publishRecord = (textLength: string, binaryLength: string) =>
  recordSource(GUEST_PUBLISH, {
    TOPIC_LENGTH: 'topic.length',
    TEXT_LENGTH: textLength,
    FLAGS: 'flags',
    BINARY_LENGTH: binaryLength,
    PROPERTIES_LENGTH: 'props.length',
  })
const TEXT_PUBLISH = publishRecord('p.length', String(NONE))
const BINARY_PUBLISH = publishRecord('0', 'p.byteLength')
const DRAINED_ARRAY = recordSource(DRAINED, {
  TEXT: "toHost(outTexts.join(''))",
  META: 'new Int32Array(outMeta).buffer',
  BINARY: 'binary',
  DROPPED: 'outDropped',
})

export const PRELUDE_FILE = '<tinymqtt>'

export const PRELUDE_SOURCE = `(function (host) {
  'use strict'
  const g = globalThis
${GUEST_TEXT_PRELUDE}
  // The broker's own topic name check, so a script's ms_publish refuses exactly what it would.
  ${topicNameError.toString()}
  const fmt = (v) => {
    if (typeof v === 'string') return v
    if (v instanceof Error) return v.name + ': ' + v.message + (v.stack ? '\\n' + v.stack : '')
    if (typeof v === 'function') return '[Function ' + (v.name || 'anonymous') + ']'
    if (typeof v === 'bigint' || typeof v === 'symbol' || v === undefined) return String(v)
    try { const s = JSON.stringify(v); return s === undefined ? String(v) : s } catch (e) { return String(v) }
  }
  const line = (args) => toHost(args.map(fmt).join(' '))
  const toPayload = (p) => {
    if (p === undefined || p === null) return ''
    if (typeof p === 'string') return p
    if (typeof p === 'number' || typeof p === 'boolean' || typeof p === 'bigint') return String(p)
    if (p instanceof ArrayBuffer) return p.slice(0)
    if (ArrayBuffer.isView(p)) return p.buffer.slice(p.byteOffset, p.byteOffset + p.byteLength)
    const json = JSON.stringify(p)
    if (json === undefined) throw new TypeError('ms_publish: payload cannot be sent')
    return json
  }
  const def = (name, value) =>
    Object.defineProperty(g, name, { value, writable: false, enumerable: false, configurable: false })
  const fn = (name, f) => Object.defineProperty(f, 'name', { value: name })

  def('print', fn('print', (...a) => host.log('info', line(a))))
  def('console', Object.freeze({
    log: fn('log', (...a) => host.log('info', line(a))),
    info: fn('info', (...a) => host.log('info', line(a))),
    debug: fn('debug', (...a) => host.log('debug', line(a))),
    warn: fn('warn', (...a) => host.log('warn', line(a))),
    error: fn('error', (...a) => host.log('error', line(a))),
  }))
  def('ms_subscribe', fn('ms_subscribe', (filter, callback, options) => {
    if (typeof filter !== 'string') throw new TypeError('ms_subscribe: filter must be a string')
    if (typeof callback !== 'function') throw new TypeError('ms_subscribe: callback must be a function')
    return host.subscribe(filter, callback, options != null && options.changes ? 1 : 0)
  }))
  // Subscriptions ended during the current batch: its remaining messages for them are skipped.
  const endedInBatch = new Set()
  def('ms_unsubscribe', fn('ms_unsubscribe', (id) => {
    const ended = host.unsubscribe(Number(id))
    if (ended) endedInBatch.add(Number(id))
    return ended
  }))
  // Publishes are delivered only after the current callback returns, so they are queued here
  // and handed to the host in one packed call (see drain) instead of one host call each.
  // The host applies the rate limit when it drains; more than a burst in one go would be
  // dropped there anyway, so the queue stops at that size.
  const MAX_QUEUED = host.maxQueuedPublishes
  let outTexts = []
  let outMeta = []
  let outBinaries = []
  let outBinaryBytes = 0
  let outDropped = 0
  // Returns DRAINED: [text, GUEST_PUBLISH records, binary bytes, dropped] (see wire-formats.ts).
  const drain = () => {
      if (outMeta.length === 0 && outDropped === 0) return undefined
      let binary
      if (outBinaryBytes > 0) {
        const all = new Uint8Array(outBinaryBytes)
        let offset = 0
        for (const b of outBinaries) { all.set(new Uint8Array(b), offset); offset += b.byteLength }
        binary = all.buffer
      }
      const out = [${DRAINED_ARRAY}]
      outTexts = []
      outMeta = []
      outBinaries = []
      outBinaryBytes = 0
      outDropped = 0
      return out
  }
  def('ms_publish', fn('ms_publish', (topic, payload, options) => {
    if (typeof topic !== 'string') throw new TypeError('ms_publish: topic must be a string')
    const topicProblem = topicNameError(topic)
    if (topicProblem !== undefined) throw new TypeError('ms_publish: invalid topic ' + JSON.stringify(topic) + ': ' + topicProblem)
    const qos = options && options.qos !== undefined ? options.qos : 0
    if (qos !== 0 && qos !== 1 && qos !== 2) throw new RangeError('ms_publish: qos must be 0, 1 or 2')
    const p = toPayload(payload)
    const props = options && options.properties != null ? encodeProperties(options.properties) : ''
    if (outMeta.length >= MAX_QUEUED * ${GUEST_PUBLISH.STRIDE}) { outDropped++; return }
    const flags = qos | (options && options.retain ? ${FLAG.RETAIN} : 0)
    if (typeof p === 'string') {
      outTexts.push(topic, p, props)
      outMeta.push(${TEXT_PUBLISH})
    } else {
      outTexts.push(topic, props)
      outMeta.push(${BINARY_PUBLISH})
      outBinaries.push(p)
      outBinaryBytes += p.byteLength
    }
    // A long publishing loop hands over full chunks as it goes, so the queue stays small.
    if (outMeta.length >= 4096 * ${GUEST_PUBLISH.STRIDE}) host.publishBatch(drain())
  }))
  def('ms_user', fn('ms_user', (user) => host.credentials('user', user == null ? undefined : String(user))))
  def('ms_pass', fn('ms_pass', (pass) => host.credentials('pass', pass == null ? undefined : String(pass))))
  def('ms_port', fn('ms_port', (port) => {
    const n = Number(port)
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new RangeError('ms_port: port must be an integer 0..65535')
    host.port(n)
  }))
  // An async callback's rejection would otherwise vanish; it is logged like a thrown error.
  const watchAsync = (result, what) => {
    if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
      result.then(undefined, (e) => host.asyncError(e, what))
    }
  }
  const timer = (name, repeat) => fn(name, (callback, ms, ...args) => {
    if (typeof callback !== 'function') throw new TypeError(name + ': callback must be a function')
    const delay = Number(ms) > 0 ? Number(ms) : 0
    return host.setTimer(() => watchAsync(callback(...args), 'async ' + name + ' callback'), delay, repeat)
  })
  def('setTimeout', timer('setTimeout', false))
  def('setInterval', timer('setInterval', true))
  const clear = (name) => fn(name, (id) => { if (typeof id === 'number') host.clearTimer(id) })
  def('clearTimeout', clear('clearTimeout'))
  def('clearInterval', clear('clearInterval'))
  def('ms_schedule', fn('ms_schedule', (spec, callback) => {
    if (typeof spec !== 'string') throw new TypeError('ms_schedule: spec must be a string (a cron expression or a sun event)')
    if (typeof callback !== 'function') throw new TypeError('ms_schedule: callback must be a function')
    return host.schedule(spec, (at) => watchAsync(callback(at), 'async ms_schedule callback'))
  }))
  def('ms_unschedule', fn('ms_unschedule', (id) => host.unschedule(Number(id))))
  def('ms_next', fn('ms_next', (id) => host.nextRun(Number(id))))

${FETCH_PRELUDE}

  // UTF-8 encoder for msg.bytes of text payloads, computed only when a script reads it.
  const utf8 = (s) => {
    const out = []
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i)
      if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1)
        if (d >= 0xdc00 && d < 0xe000) { c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00); i++ }
      }
      if (c < 0x80) out.push(c)
      else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63))
      else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63))
      else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63))
    }
    return new Uint8Array(out)
  }
  // MQTT 5 properties arrive as JSON; correlation data becomes bytes again.
  const messageProperties = (p) => {
    if (p.correlationData) p.correlationData = new Uint8Array(p.correlationData)
    return p
  }
  const bytesOf = (v) => {
    if (typeof v === 'string') return Array.from(utf8(v))
    if (v instanceof ArrayBuffer) return Array.from(new Uint8Array(v))
    if (ArrayBuffer.isView(v)) return Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength))
    throw new TypeError('ms_publish: properties.correlationData must be bytes or a string')
  }
  // ms_publish's options.properties, checked here so a mistake throws in the script.
  const encodeProperties = (p) => {
    if (typeof p !== 'object') throw new TypeError('ms_publish: properties must be an object')
    const out = {}
    if (p.payloadFormatIndicator !== undefined) out.payloadFormatIndicator = !!p.payloadFormatIndicator
    if (p.messageExpiryInterval !== undefined) {
      const n = p.messageExpiryInterval
      if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError('ms_publish: properties.messageExpiryInterval must be whole seconds')
      out.messageExpiryInterval = n
    }
    if (p.contentType !== undefined) out.contentType = String(p.contentType)
    if (p.responseTopic !== undefined) {
      const t = String(p.responseTopic)
      if (topicNameError(t) !== undefined) throw new TypeError('ms_publish: properties.responseTopic must be a topic name')
      out.responseTopic = t
    }
    if (p.correlationData !== undefined) out.correlationData = bytesOf(p.correlationData)
    if (p.userProperties !== undefined) {
      if (typeof p.userProperties !== 'object' || p.userProperties === null) throw new TypeError('ms_publish: properties.userProperties must be an object')
      const user = {}
      for (const key of Object.keys(p.userProperties)) {
        const v = p.userProperties[key]
        user[key] = Array.isArray(v) ? v.map(String) : String(v)
      }
      out.userProperties = user
    }
    return JSON.stringify(out)
  }
  const textMessage = (qos, retain, clientId, payload) => {
    let bytes
    const msg = { qos, retain, get bytes() { return bytes || (bytes = utf8(payload)) } }
    if (clientId !== undefined) msg.clientId = clientId
    return msg
  }

  // A batch of deliveries in one host call: topics and payloads packed into one string, one
  // DISPATCH record per message in an Int32Array (see wire-formats.ts). The cursor lives here
  // so the host can resume after a callback was interrupted.
  let batch = null
  let cursor = 0
  let pos = 0
  const run = () => {
    const { text, meta, callbacks, clientIds, binary, properties, count } = batch
    let lastTick = Date.now()
    while (cursor < count) {
      const m = cursor * ${D.STRIDE}
      cursor++
      if (endedInBatch.size > 0 && endedInBatch.has(meta[m + ${D.SUB}])) {
        pos += meta[m + ${D.TOPIC_LENGTH}] + meta[m + ${D.TEXT_LENGTH}]
        continue
      }
      const now = Date.now()
      if (now !== lastTick) { lastTick = now; host.tick() }
      const topic = text.substring(pos, pos + meta[m + ${D.TOPIC_LENGTH}])
      pos += meta[m + ${D.TOPIC_LENGTH}]
      const payload = text.substring(pos, pos + meta[m + ${D.TEXT_LENGTH}])
      pos += meta[m + ${D.TEXT_LENGTH}]
      const flags = meta[m + ${D.FLAGS}]
      const qos = flags & ${FLAG.QOS_MASK}
      const retain = (flags & ${FLAG.RETAIN}) !== 0
      const clientIndex = meta[m + ${D.CLIENT_ID}]
      const clientId = clientIndex < 0 ? undefined : clientIds[clientIndex]
      const binaryOffset = meta[m + ${D.BINARY_OFFSET}]
      let msg
      if (binaryOffset < 0) msg = textMessage(qos, retain, clientId, payload)
      else {
        msg = { qos, retain, bytes: new Uint8Array(binary.slice(binaryOffset, binaryOffset + meta[m + ${D.BINARY_LENGTH}])) }
        if (clientId !== undefined) msg.clientId = clientId
      }
      const propertiesIndex = meta[m + ${D.PROPERTIES}]
      if (propertiesIndex >= 0) msg.properties = messageProperties(properties[propertiesIndex])
      try {
        watchAsync(callbacks[meta[m + ${D.CALLBACK}]](topic, payload, msg), 'async ms_subscribe callback for ' + topic)
      } catch (e) {
        host.callbackError(e, cursor - 1)
      }
    }
    batch = null
  }
${STATE_PRELUDE_SOURCE}
${SORT_PRELUDE_SOURCE}
${CONSOLE_PRELUDE_SOURCE}
  return {
    ...stateApi,
    ...consoleApi,
    dispatch: (text, metaBuffer, callbacks, clientIds, binary, properties) => {
      const meta = new Int32Array(metaBuffer)
      batch = {
        text: fromHost(text), meta, callbacks, binary,
        clientIds: clientIds === '' ? [] : JSON.parse(clientIds),
        properties: properties === '' ? [] : JSON.parse(properties),
        count: meta.length / ${D.STRIDE},
      }
      cursor = 0
      pos = 0
      endedInBatch.clear()
      run()
    },
    resume: () => { if (batch) run() },
    drain,
    position: () => cursor,
  }
})`
