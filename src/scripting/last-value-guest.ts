import type { QuickJSContext, QuickJSHandle } from 'quickjs-emscripten'
import { newGuestText } from './guest-text.ts'
import type { LastValueReply } from './protocol.ts'

/**
 * ms_get's answer as the prelude expects it: [payload as UTF-8 text, bytes (ArrayBuffer), qos,
 * retain, at], or undefined. The returned handle belongs to the caller (a host function returns it).
 */
export function lastValueToGuest(ctx: QuickJSContext, value: LastValueReply | undefined): QuickJSHandle {
  if (!value) return ctx.undefined
  const p = value.payload
  const text = Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString('utf8')
  const items = [
    newGuestText(ctx, text),
    ctx.newArrayBuffer(p.buffer.slice(p.byteOffset, p.byteOffset + p.byteLength)),
    ctx.newNumber(value.qos),
    value.retain ? ctx.true : ctx.false,
    ctx.newNumber(value.at),
  ]
  const array = ctx.newArray()
  items.forEach((item, i) => {
    ctx.setProp(array, i, item)
    item.dispose()
  })
  return array
}
