import type { ScriptError } from './protocol.ts';
/**
 * How long after a call that may have changed `persist` it is read and saved. A call only marks
 * it; the JSON is made once per this period however many calls ran, and `kill -9` loses at most
 * this much (plus the store's commit, milliseconds).
 */
export declare const PERSIST_SAVE_DELAY_MS = 300;
/** What a saver needs from its VM. */
export interface PersistIo {
    /** The guest's `persist` as JSON (under the VM's CPU limit); undefined when the VM is gone. */
    read(): {
        json: string;
    } | {
        error: ScriptError;
    } | undefined;
    /** Hands changed JSON to the host, which stores it under the script's name. */
    save(json: string): void;
    logError(message: string, error?: ScriptError): void;
}
/**
 * Saves one VM's `persist` when it changed: at most once per PERSIST_SAVE_DELAY_MS after a
 * call, and once more when the VM goes. Compares with the JSON saved last, so a script whose
 * state did not change costs one JSON.stringify per period, no message and no write.
 */
export declare class PersistSaver {
    private readonly io;
    /** The JSON saved last (or restored at load); undefined: nothing stored yet. */
    private saved;
    private readonly maxBytes;
    private timer;
    private owner;
    /** The JSON of the last refusal (too big, not serialisable), so it is logged once, not every period. */
    private refused;
    constructor(io: PersistIo, 
    /** The JSON saved last (or restored at load); undefined: nothing stored yet. */
    saved: string | undefined, maxBytes: number);
    get lastSaved(): string | undefined;
    /** A call ran and may have changed `persist`. */
    touch(): void;
    /** Saves now if changed; returns the JSON saved last. */
    flush(): string | undefined;
    /** A new version of the script took the state over: this one saves no more. */
    release(): void;
    cancel(): void;
}
