import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { MqttClient } from 'mqtt'
import { defined } from './defined.ts'
import { collect, type ScriptEnv, sleep, startEnv, until } from './scripting-helpers.ts'

/**
 * Drives ms_fetch from MQTT: a request on fetch/req as JSON { id, url, opts, bytes, json },
 * the outcome on fetch/res as JSON with the same id.
 */
const fetcher = `
ms_subscribe('fetch/req', async (t, p) => {
  const { id, url, opts, bytes, json } = JSON.parse(p)
  const o = opts ?? undefined
  if (bytes) o.body = new Uint8Array(o.body)
  try {
    const r = await ms_fetch(url, o)
    const out = { id, status: r.status, ok: r.ok, statusText: r.statusText, headers: r.headers, text: r.text }
    if (json) { try { out.json = r.json() } catch (e) { out.jsonError = e.name + ': ' + e.message } }
    ms_publish('fetch/res', JSON.stringify(out))
  } catch (e) {
    ms_publish('fetch/res', JSON.stringify({ id, error: e.message, name: e.name }))
  }
})
ms_subscribe('fetch/throw', async (t, url) => {
  const r = await ms_fetch(url)
  throw new Error('boom after fetch ' + r.status)
})
`

interface Outcome {
  id: number
  status?: number
  ok?: boolean
  statusText?: string
  headers?: Record<string, string>
  text?: string
  json?: unknown
  jsonError?: string
  error?: string
  name?: string
}

/** An HTTP server on 127.0.0.1 whose handler the test sets per case. */
async function startServer(): Promise<{
  server: Server
  url: string
  handle: (h: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void) => void
}> {
  let handler: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void = (_req, res) => res.end()
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => handler(req, res, Buffer.concat(chunks)))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { server, url: `http://127.0.0.1:${port}`, handle: (h) => (handler = h) }
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
}

describe('ms_fetch', () => {
  let env: ScriptEnv
  let client: MqttClient
  let results: Array<{ topic: string; payload: string }>
  let http: Awaited<ReturnType<typeof startServer>>
  let nextId = 1

  before(async () => {
    env = await startEnv({ 'fetcher.js': fetcher }, { fetchTimeoutMs: 1500, maxFetchBytes: 1000 })
    client = await env.client()
    results = await collect(client, 'fetch/res')
    http = await startServer()
  })
  after(async () => {
    await env.close()
    await closeServer(http.server)
  })

  function send(url: string, opts?: unknown, extra: { bytes?: boolean; json?: boolean } = {}): number {
    const id = nextId++
    client.publish('fetch/req', JSON.stringify({ id, url, opts, ...extra }))
    return id
  }

  async function outcome(id: number, timeoutMs = 10_000): Promise<Outcome> {
    const find = () => results.map((r) => JSON.parse(r.payload) as Outcome).find((o) => o.id === id)
    await until(() => find() !== undefined, `the outcome of request ${id}`, timeoutMs)
    return defined(find(), 'find()')
  }

  const call = (url: string, opts?: unknown, extra?: { bytes?: boolean; json?: boolean }) =>
    outcome(send(url, opts, extra))

  it('GET: status, ok, lower-case headers, text and json()', async () => {
    let seen: IncomingMessage | undefined
    http.handle((req, res) => {
      seen = req
      res.writeHead(200, 'Fine', { 'Content-Type': 'application/json', 'X-Reply': 'Yes' })
      res.end(JSON.stringify({ temp: 21.5, rooms: ['a', 'b'] }))
    })
    const r = await call(`${http.url}/state?x=1`, { headers: { 'X-Token': 'abc' } }, { json: true })
    assert.equal(r.error, undefined)
    assert.equal(r.status, 200)
    assert.equal(r.ok, true)
    assert.equal(r.statusText, 'Fine')
    assert.equal(r.headers?.['x-reply'], 'Yes')
    assert.equal(r.headers?.['content-type'], 'application/json')
    assert.deepEqual(r.json, { temp: 21.5, rooms: ['a', 'b'] })
    assert.equal(r.text, '{"temp":21.5,"rooms":["a","b"]}')
    assert.equal(seen?.method, 'GET')
    assert.equal(seen?.url, '/state?x=1')
    assert.equal(seen?.headers['x-token'], 'abc')
  })

  it('POST with an object body sends JSON with content-type application/json', async () => {
    let got: { method?: string; type?: string; body?: string; auth?: string } = {}
    http.handle((req, res, body) => {
      got = {
        method: req.method,
        type: req.headers['content-type'],
        body: body.toString(),
        auth: req.headers.authorization,
      }
      res.writeHead(201)
      res.end('created')
    })
    const r = await call(`${http.url}/items`, {
      method: 'post',
      headers: { Authorization: 'Bearer t' },
      body: { on: true, level: 3 },
    })
    assert.equal(r.status, 201)
    assert.equal(r.ok, true)
    assert.equal(r.text, 'created')
    assert.deepEqual(got, {
      method: 'POST',
      type: 'application/json',
      body: '{"on":true,"level":3}',
      auth: 'Bearer t',
    })
  })

  it('sends string and byte bodies as they are, keeping a given content-type', async () => {
    const bodies: Array<{ type?: string; body: number[] }> = []
    http.handle((req, res, body) => {
      bodies.push({ type: req.headers['content-type'], body: [...body] })
      res.end('ok')
    })
    await call(`${http.url}/raw`, {
      method: 'PUT',
      body: 'plain text',
      headers: { 'content-type': 'text/plain' },
    })
    await call(`${http.url}/raw`, { method: 'PUT', body: [0, 255, 7] }, { bytes: true })
    assert.deepEqual(bodies[0], { type: 'text/plain', body: [...Buffer.from('plain text')] })
    assert.deepEqual(bodies[1]?.body, [0, 255, 7])
  })

  it('a non-2xx status resolves with ok false', async () => {
    http.handle((_req, res) => {
      res.writeHead(404)
      res.end('no such thing')
    })
    const r = await call(`${http.url}/missing`)
    assert.equal(r.error, undefined)
    assert.equal(r.status, 404)
    assert.equal(r.ok, false)
    assert.equal(r.text, 'no such thing')
  })

  it('json() throws a clear error on invalid JSON', async () => {
    http.handle((_req, res) => res.end('not json'))
    const r = await call(`${http.url}/text`, undefined, { json: true })
    assert.match(r.jsonError ?? '', /^SyntaxError: ms_fetch: response \(status 200\) is not valid JSON/)
  })

  it('rejects after the timeout: per request, and the configured default', async () => {
    http.handle(() => {}) // never answers
    const own = await call(`${http.url}/slow?secret=1`, { timeoutMs: 200 })
    assert.equal(own.error, `ms_fetch GET ${http.url}/slow: timed out after 200 ms`)
    const byDefault = await call(`${http.url}/slow`)
    assert.equal(byDefault.error, `ms_fetch GET ${http.url}/slow: timed out after 1500 ms`)
  })

  it('rejects a response larger than maxFetchBytes, declared or streamed', async () => {
    http.handle((req, res) => {
      if (req.url === '/declared') res.end('x'.repeat(2000))
      else {
        // No content-length: the size is only known while reading.
        res.writeHead(200, { 'Transfer-Encoding': 'chunked' })
        res.write('y'.repeat(600))
        res.end('y'.repeat(600))
      }
    })
    const declared = await call(`${http.url}/declared`)
    assert.equal(declared.error, `ms_fetch GET ${http.url}/declared: response larger than 1000 bytes`)
    const streamed = await call(`${http.url}/streamed`)
    assert.equal(streamed.error, `ms_fetch GET ${http.url}/streamed: response larger than 1000 bytes`)
    http.handle((_req, res) => res.end('z'.repeat(1000)))
    const exact = await call(`${http.url}/exact`)
    assert.equal(exact.text?.length, 1000)
  })

  it('rejects when the connection is refused', async () => {
    const spare = await startServer()
    const url = spare.url
    await closeServer(spare.server)
    const r = await call(`${url}/x`)
    assert.equal(r.name, 'Error')
    assert.match(r.error ?? '', new RegExp(`^ms_fetch GET ${url}/x failed: .*ECONNREFUSED`))
  })

  it('rejects URLs that are not http or https, and bad arguments', async () => {
    const ftp = await call('ftp://127.0.0.1/file')
    assert.equal(ftp.name, 'TypeError')
    assert.match(ftp.error ?? '', /^ms_fetch: only http and https URLs are supported, not ftp:/)
    const file = await call('file:///etc/passwd')
    assert.match(file.error ?? '', /^ms_fetch: only http and https URLs are supported, not file:/)
    const bad = await call('not a url')
    assert.equal(bad.error, 'ms_fetch: invalid URL: not a url')
    const body = await call(`${http.url}/`, { method: 'POST', body: 42 })
    assert.match(body.error ?? '', /^ms_fetch: body must be/)
  })

  it('keeps at most 8 requests of a script in flight; the others wait', async () => {
    const held: ServerResponse[] = []
    let maxActive = 0
    let served = 0
    http.handle((_req, res) => {
      held.push(res)
      maxActive = Math.max(maxActive, held.length - served)
      res.on('finish', () => served++)
    })
    const ids = Array.from({ length: 12 }, (_, i) => send(`${http.url}/c${i}`))
    await until(() => held.length === 8, '8 requests at the server')
    // A margin for a 9th request to show up if the limit did not hold.
    await sleep(300)
    assert.equal(held.length, 8)
    for (let answered = 0; answered < 12; answered++) {
      await until(() => held.length > answered, `request ${answered + 1} at the server`)
      defined(held[answered], 'held[answered]').end(`r${answered}`)
    }
    const outcomes = await Promise.all(ids.map((id) => outcome(id)))
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ids.map(() => 200),
    )
    assert.equal(served, 12)
    assert.equal(maxActive, 8)
  })

  it('an async callback failing after ms_fetch is logged with file:line:column', async () => {
    http.handle((_req, res) => res.end('fine'))
    const from = env.log.lines.length
    client.publish('fetch/throw', `${http.url}/t`)
    const line = await env.log.waitFor((l) => String(l.msg).includes('boom after fetch 200'), 10_000, from)
    assert.match(String(line.msg), /fetcher\.js:\d+:\d+/)
    assert.equal(line.level, 50)
  })
})

describe('ms_fetch and unloading', () => {
  let env: ScriptEnv
  let http: Awaited<ReturnType<typeof startServer>>

  before(async () => {
    env = await startEnv({})
    http = await startServer()
  })
  after(async () => {
    await env.close()
    await closeServer(http.server)
  })

  /** A script that starts a request at load; the server holds it and reports when its socket closes. */
  async function holdRequest(file: string, path: string): Promise<{ closed: () => boolean }> {
    let closed = false
    let arrived = false
    http.handle((req) => {
      if (req.url !== path) return
      arrived = true
      req.socket.once('close', () => {
        closed = true
      })
    })
    await env.write(
      file,
      `ms_fetch('${http.url}${path}', { timeoutMs: 60000 }).then(() => print('answered'), (e) => print('rejected ' + e.message))`,
    )
    await until(() => arrived, `the request to ${path}`, 10_000)
    return { closed: () => closed }
  }

  it('unloading a script aborts its request in flight', async () => {
    const request = await holdRequest('gone.js', '/unload')
    assert.equal(request.closed(), false)
    await rm(join(env.dir, 'gone.js'))
    await until(request.closed, 'the server to see the socket close', 10_000)
  })

  it('reloading a script aborts the old version’s request in flight', async () => {
    const request = await holdRequest('again.js', '/reload')
    await env.write('again.js', `print('version 2')`)
    await env.log.waitFor((l) => l.msg === 'version 2')
    await until(request.closed, 'the server to see the socket close', 10_000)
    // The aborted request settles nothing in the disposed VM.
    await sleep(100)
    assert.equal(
      env.log.find((l) => l.msg === 'answered' || String(l.msg).startsWith('rejected')),
      undefined,
    )
  })
})
