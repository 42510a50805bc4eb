import type { QuickJSContext, QuickJSHandle } from 'quickjs-emscripten'

/**
 * Strings across the VM boundary with their U+0000 intact. quickjs-emscripten hands strings
 * over as C strings (newString, getString), so a NUL would end the string there: one MQTT
 * payload with a NUL byte cut a whole delivery batch short. A string that contains NUL travels
 * as an array of its NUL-separated parts instead, which the other side joins; every other
 * string (nearly all) goes as it is, at no extra cost.
 */

/** A guest string (handle owned by the caller) with the same UTF-16 content as `text`. */
export function newGuestText(ctx: QuickJSContext, text: string): QuickJSHandle {
  if (!text.includes('\u0000')) return ctx.newString(text)
  const array = ctx.newArray()
  const parts = text.split('\u0000')
  for (const [i, part] of parts.entries()) {
    const handle = ctx.newString(part)
    ctx.setProp(array, i, handle)
    handle.dispose()
  }
  return array
}

/** Reads what the prelude's toHost() made of a string (borrowed handle): a string or its parts. */
export function readGuestText(ctx: QuickJSContext, handle: QuickJSHandle): string {
  if (ctx.typeof(handle) === 'string') return ctx.getString(handle)
  const length = ctx.getLength(handle) ?? 0
  const parts: string[] = []
  for (let i = 0; i < length; i++) {
    const part = ctx.getProp(handle, i)
    try {
      parts.push(ctx.typeof(part) === 'string' ? ctx.getString(part) : '')
    } finally {
      part.dispose()
    }
  }
  return parts.join('\u0000')
}

/** The prelude's half: fromHost() joins what newGuestText sent, toHost() splits for readGuestText. */
export const GUEST_TEXT_PRELUDE = `
  const NUL = String.fromCharCode(0)
  const fromHost = (t) => (typeof t === 'string' ? t : t.join(NUL))
  const toHost = (t) => (t.indexOf(NUL) < 0 ? t : t.split(NUL))
`
