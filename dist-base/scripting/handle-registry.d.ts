import type { QuickJSHandle } from 'quickjs-emscripten';
/**
 * Owns the handles a script keeps beyond one call (subscription callbacks, timer functions).
 * Each handle is a dup() made for this registry and disposed exactly once, here. A handle
 * removed while the VM is executing (a callback unsubscribing itself, an interval clearing
 * itself) may still be on the QuickJS call stack, so it goes to a graveyard freed when the
 * outermost call returns.
 */
export declare class HandleRegistry {
    private readonly isRunning;
    private readonly live;
    private graveyard;
    constructor(isRunning: () => boolean);
    get size(): number;
    /** Takes ownership of `handle`. */
    add(id: number, handle: QuickJSHandle): void;
    /** Borrowed: valid until remove(id) or the next flush. */
    get(id: number): QuickJSHandle | undefined;
    remove(id: number): boolean;
    flushGraveyard(): void;
    disposeAll(): void;
}
