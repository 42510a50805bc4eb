import type { QuickJSContext, QuickJSHandle } from 'quickjs-emscripten';
import type { ThrownParts } from './error-location.ts';
import type { ScriptLimits } from './options.ts';
/**
 * Reads what a script threw (borrowed handle, not disposed) into plain parts, and turns
 * QuickJS's terse limit errors into messages that name the limit and what happened.
 */
export declare function readThrown(ctx: QuickJSContext, handle: QuickJSHandle, limits: ScriptLimits): ThrownParts;
