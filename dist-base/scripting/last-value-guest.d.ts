import type { QuickJSContext, QuickJSHandle } from 'quickjs-emscripten';
import type { LastValueReply } from './protocol.ts';
/**
 * ms_get's answer as the prelude expects it: [payload as UTF-8 text, bytes (ArrayBuffer), qos,
 * retain, at], or undefined. The returned handle belongs to the caller (a host function returns it).
 */
export declare function lastValueToGuest(ctx: QuickJSContext, value: LastValueReply | undefined): QuickJSHandle;
