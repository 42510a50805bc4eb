// A shared module, not a script: files in a lib/ folder (and files whose name starts with _)
// are only ever imported. Both power-overview.js and staircase-timer.js use it, and saving
// this file reloads both of them.

/**
 * A Tasmota topic, `<prefix>/<device>/<command>`: topic('cmnd', 'plug_a', 'POWER').
 * @param {'cmnd' | 'stat' | 'tele'} prefix
 * @param {string} device
 * @param {string} command
 */
export function topic(prefix, device, command) {
  return `${prefix}/${device}/${command}`
}

/**
 * The device a Tasmota topic is about: 'stat/plug_a/POWER' -> 'plug_a'.
 * @param {string} t
 */
export function deviceOf(t) {
  return t.split('/')[1] ?? ''
}

/**
 * A POWER state as a boolean: `ON` / `OFF` (any case, also `1` / `0` / `true` / `false`), or
 * Tasmota's JSON result such as `{"POWER":"ON"}` or `{"POWER2":"OFF"}`. Anything else
 * (`TOGGLE`, a typo) gives undefined, so callers can ignore it.
 * @param {string} payload
 * @returns {boolean | undefined}
 */
export function parsePower(payload) {
  const text = payload.trim()
  if (text.startsWith('{')) {
    try {
      const result = JSON.parse(text)
      const key = Object.keys(result).find((k) => /^POWER\d*$/.test(k))
      return key === undefined ? undefined : parsePower(String(result[key]))
    } catch {
      return undefined
    }
  }
  switch (text.toUpperCase()) {
    case 'ON':
    case '1':
    case 'TRUE':
      return true
    case 'OFF':
    case '0':
    case 'FALSE':
      return false
    default:
      return undefined
  }
}
