/**
 * Guest-side half of `persist` and `ms_get`, spliced into the prelude (it uses the prelude's
 * `def`, `fn` and `host`). `persist` is a plain object the script changes as it likes; the host
 * reads it back as JSON (persistJson) after calls that may have changed it (see PersistSaver).
 */
export const STATE_PRELUDE_SOURCE = `
  let persistObject = {}
  // The object restored from the stored JSON; false when that JSON was not an object.
  const persistInit = (json) => {
    let value = {}
    let restored = true
    if (json !== undefined) {
      try { value = JSON.parse(json) } catch (e) { restored = false }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) { value = {}; restored = false }
    }
    persistObject = value
    def('persist', persistObject)
    return restored
  }
  const persistJson = () => {
    const json = JSON.stringify(persistObject)
    if (typeof json !== 'string') throw new TypeError('persist is not JSON-serialisable')
    return json
  }
  // [payload as text, bytes (ArrayBuffer), qos, retain, at] or undefined, from the broker's cache.
  def('ms_get', fn('ms_get', (topic) => {
    if (typeof topic !== 'string') throw new TypeError('ms_get: topic must be a string')
    const r = host.get(topic)
    if (r === undefined) return undefined
    return { payload: fromHost(r[0]), bytes: new Uint8Array(r[1]), qos: r[2], retain: r[3], at: r[4] }
  }))
  const stateApi = { persistInit, persistJson }
`
