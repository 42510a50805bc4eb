import { type QuickJSContext, type QuickJSHandle } from 'quickjs-emscripten';
import { type FetchLimits } from './fetch.ts';
/**
 * One VM's ms_fetch: turns the prelude's call into a FetchQueue request and settles the guest
 * promise (a QuickJS deferred) when it completes. The deferreds are owned here: each is
 * disposed exactly once, after it settles or when the VM goes away with it still pending.
 */
export declare class GuestFetches {
    private readonly ctx;
    private readonly limits;
    private readonly enter;
    private readonly queue;
    private readonly pending;
    /**
     * `enter` runs a body inside the VM's call bracket (CPU deadline, watchdog, pending promise
     * jobs afterwards); it is how a completed request reaches the script's `then` callbacks.
     * The body returns a problem to log when the result could not be handed to the script.
     */
    constructor(ctx: QuickJSContext, limits: FetchLimits, enter: (body: () => string | undefined) => void);
    /**
     * The host primitive behind ms_fetch(url, method, headers JSON, body, timeoutMs), arguments
     * borrowed and already checked by the prelude. Returns the guest promise.
     */
    start(url: QuickJSHandle, method: QuickJSHandle, headers: QuickJSHandle, body: QuickJSHandle, timeoutMs: QuickJSHandle): QuickJSHandle;
    /** Aborts every request. With `disposeHandles` false (the VM crashed) its memory is left alone. */
    close(disposeHandles: boolean): void;
    private settle;
}
