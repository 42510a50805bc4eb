import { type Delivery } from './delivery-batch.ts';
import type { ScriptLimits } from './options.ts';
import type { FromWorker, ScriptError, SyncReply, SyncRequest } from './protocol.ts';
import { type WasmModule } from './wasm.ts';
/** What a VM needs from the worker around it. */
export interface VmHost {
    send(msg: FromWorker): void;
    syncRequest(req: SyncRequest): SyncReply;
    /** Brackets every call into a VM so the watchdog on the main thread can see it running. */
    enterCall(vmId: number): void;
    leaveCall(): void;
    /** The VM's WebAssembly instance failed (abort, memory fault); it is abandoned, not disposed. */
    onCrash(vm: ScriptVm, error: ScriptError): void;
}
/**
 * One script version: its own WebAssembly instance with capped memory, one runtime and
 * one context. Every call into the guest goes through `run()`, which arms the CPU deadline,
 * tells the watchdog, and defers disposal of handles (or of the whole VM) until the
 * outermost call has returned.
 */
export declare class ScriptVm {
    readonly name: string;
    readonly vmId: number;
    private readonly limits;
    private readonly host;
    private readonly runtime;
    private readonly ctx;
    private readonly memory;
    private readonly subs;
    private readonly timers;
    private readonly hostTimers;
    private readonly publishLimiter;
    private readonly logLimiter;
    private throttleReportAt;
    private readonly limitReportAt;
    private logDropReportAt;
    private nextSubId;
    private nextTimerId;
    private reportedTimers;
    private depth;
    private deadline;
    private disposeRequested;
    private dead;
    private dispatch;
    private resume;
    private position;
    private drain;
    private droppedPublishes;
    private inbox;
    /** The deliveries of the batch being dispatched, for naming the topic in error logs. */
    private batch;
    private namespace;
    /** Which files are this script's own in stack traces: itself and the modules it imports. */
    private isOwnFile;
    private persistInit;
    private persistJson;
    private persistSaver;
    /** Set once the state was saved on the way out, so the dispose that follows does not save again. */
    private persistFinal;
    /** Subscriptions made with `{ changes: true }`, by subId. */
    private readonly changeFilters;
    private readonly fetches;
    private constructor();
    static create(name: string, vmId: number, limits: ScriptLimits, wasmModule: WasmModule, host: VmHost): Promise<ScriptVm>;
    /** Bytes of WebAssembly memory this VM holds; never above the cap. */
    get memoryBytes(): number;
    get alive(): boolean;
    /**
     * Evaluates the script as an ES module, its imports served from `modules` (folder-relative
     * name → source); returns the error if the top level failed.
     */
    evaluate(code: string, modules?: ReadonlyMap<string, string>): ScriptError | undefined;
    /** Calls an optional export (`init` / `deinit`); missing exports are fine. */
    callExport(exportName: 'init' | 'deinit'): ScriptError | undefined;
    /**
     * Defines the global `persist` from the stored JSON (undefined: none yet), before the top
     * level runs, and starts saving its changes.
     */
    restorePersist(json: string | undefined): void;
    /** Saves `persist` if it changed and returns its JSON, for a new version of the script to start from. */
    persistSnapshot(): string | undefined;
    /** The `persist` JSON saved last (or restored at load). */
    get savedPersist(): string | undefined;
    /** A new version took the state over: this one saves no more (not even what its deinit changes). */
    releasePersist(): void;
    private readPersist;
    /** Queues a message for a subscription; flushDeliveries() hands the queue to the guest in batches. */
    enqueue(delivery: Delivery): void;
    flushDeliveries(): void;
    /**
     * One guest call for many messages: host→guest calls dominate the cost of a callback, so
     * topics and payloads travel packed (see the prelude's dispatcher). The guest re-arms the
     * CPU deadline through host.tick() whenever its clock moves, so the limit still applies
     * per callback; when one is interrupted the batch resumes after it.
     */
    private deliverBatch;
    private callGuest;
    private guestPosition;
    /** Disposes now, or when the call in progress returns. Safe to call more than once. */
    dispose(): void;
    /** Forgets the VM without touching its WebAssembly memory (after a crash nothing in it can be trusted). */
    abandon(): void;
    private run;
    /** Runs promise jobs queued by the call, under the same deadline. */
    private runPendingJobs;
    /** Resolves a value that may be a promise (module evaluation with top-level await, async init). */
    private settle;
    /** Reads a thrown value and disposes its handle. */
    private takeError;
    private thrownParts;
    private log;
    private logError;
    /**
     * Tells the host a limit aborted a call, for the script's status. Not subject to the log rate
     * limit (the status must not depend on whether the line made it into the log), but sent at most
     * once a second per kind, since a script near its memory cap can fail on every message.
     */
    private reportLimit;
    private installApi;
    private subscribe;
    private unsubscribe;
    /** Takes the publishes the guest queued and forwards those within the rate limit. */
    private drainPublishes;
    /** Forwards one packed chunk of guest publishes (borrowed handle) within the rate limit. */
    private forwardPublishes;
    private reportThrottled;
    /** Hands a finished ms_fetch to the guest inside the usual call bracket. */
    private settleFetch;
    private setTimer;
    private clearTimer;
    private fireTimer;
}
