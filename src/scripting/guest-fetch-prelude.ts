/**
 * The guest half of ms_fetch, spliced into the prelude (it uses the prelude's `def`, `fn` and
 * `host`): the request is checked and encoded here; the host makes it (see guest-fetch.ts) and
 * settles the promise with [status, statusText, headers JSON, text]. Every error is a rejection.
 */
export const FETCH_PRELUDE = `  const fetchBody = (b, headers) => {
    if (b === undefined || b === null) return undefined
    if (typeof b === 'string') return toHost(b)
    if (b instanceof ArrayBuffer) return b
    if (ArrayBuffer.isView(b)) return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)
    if (typeof b === 'object') {
      if (headers['content-type'] === undefined) headers['content-type'] = 'application/json'
      return JSON.stringify(b)
    }
    throw new TypeError('ms_fetch: body must be a string, a Uint8Array/ArrayBuffer or an object')
  }
  const fetchResponse = (r) => {
    const status = r[0]
    const text = fromHost(r[3])
    return {
      status,
      ok: status >= 200 && status < 300,
      statusText: r[1],
      headers: JSON.parse(r[2]),
      text,
      json: fn('json', () => {
        try { return JSON.parse(text) } catch (e) {
          throw new SyntaxError('ms_fetch: response (status ' + status + ') is not valid JSON: ' + e.message)
        }
      }),
    }
  }
  def('ms_fetch', fn('ms_fetch', (url, options) => {
    try {
      if (typeof url !== 'string') throw new TypeError('ms_fetch: url must be a string')
      const o = options == null ? {} : options
      if (typeof o !== 'object') throw new TypeError('ms_fetch: options must be an object')
      const method = o.method === undefined ? 'GET' : String(o.method).toUpperCase()
      const headers = {}
      if (o.headers != null) {
        if (typeof o.headers !== 'object') throw new TypeError('ms_fetch: headers must be an object')
        for (const k of Object.keys(o.headers)) headers[k.toLowerCase()] = String(o.headers[k])
      }
      const body = fetchBody(o.body, headers)
      const timeoutMs = o.timeoutMs === undefined ? 0 : Number(o.timeoutMs)
      if (!(timeoutMs >= 0) || timeoutMs === Infinity) throw new RangeError('ms_fetch: timeoutMs must be a positive number of milliseconds')
      return host.fetch(url, method, JSON.stringify(headers), body, timeoutMs).then(fetchResponse)
    } catch (e) {
      return Promise.reject(e)
    }
  }))
`
