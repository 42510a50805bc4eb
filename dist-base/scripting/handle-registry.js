/**
 * Owns the handles a script keeps beyond one call (subscription callbacks, timer functions).
 * Each handle is a dup() made for this registry and disposed exactly once, here. A handle
 * removed while the VM is executing (a callback unsubscribing itself, an interval clearing
 * itself) may still be on the QuickJS call stack, so it goes to a graveyard freed when the
 * outermost call returns.
 */
export class HandleRegistry {
    isRunning;
    live = new Map();
    graveyard = [];
    constructor(isRunning) {
        this.isRunning = isRunning;
    }
    get size() {
        return this.live.size;
    }
    /** Takes ownership of `handle`. */
    add(id, handle) {
        this.live.set(id, handle);
    }
    /** Borrowed: valid until remove(id) or the next flush. */
    get(id) {
        return this.live.get(id);
    }
    remove(id) {
        const handle = this.live.get(id);
        if (!handle)
            return false;
        this.live.delete(id);
        if (this.isRunning())
            this.graveyard.push(handle);
        else
            handle.dispose();
        return true;
    }
    flushGraveyard() {
        const dead = this.graveyard;
        this.graveyard = [];
        for (const handle of dead)
            handle.dispose();
    }
    disposeAll() {
        this.flushGraveyard();
        for (const handle of this.live.values())
            handle.dispose();
        this.live.clear();
    }
}
//# sourceMappingURL=handle-registry.js.map