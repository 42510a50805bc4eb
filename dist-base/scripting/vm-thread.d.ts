import type { Message } from '../broker/types.ts';
import type { ScriptLimits } from './options.ts';
import { type FromWorker, type SyncReply, type SyncRequest, type ToWorker } from './protocol.ts';
import { type WasmModule } from './wasm.ts';
export interface VmThreadEvents {
    onMessages(batch: FromWorker[]): void;
    onSyncRequest(req: SyncRequest): Promise<SyncReply>;
    /** The worker died without being asked to (watchdog, crash). `offenderVmId` is the VM that was running. */
    onExit(info: {
        offenderVmId: number | undefined;
        reason: string;
    }): void;
}
/** Compiled once per process; each VM instantiates it with its own capped memory. */
export declare function quickjsWasmModule(): Promise<WasmModule>;
/**
 * The worker thread that runs the VMs: batches messages to it, answers its synchronous
 * requests, and terminates it when one call into a script outlives the hard CPU limit.
 */
export declare class VmThread {
    private readonly worker;
    private readonly hardCpuLimitMs;
    private outbox;
    private readonly packer;
    private scheduled;
    private readonly busy;
    private readonly watchdog;
    private closing;
    private exited;
    /** The VM that was running when the watchdog terminated the worker. */
    private killedFor;
    private lastError;
    private closedWaiter;
    private constructor();
    static start(limits: ScriptLimits, events: VmThreadEvents): Promise<VmThread>;
    send(msg: ToWorker): void;
    /** Queues a message for a script subscription; many of them travel as one packed batch. */
    deliver(vmId: number, subId: number, message: Message): void;
    private sealDeliveries;
    private schedule;
    private flush;
    private checkWatchdog;
    /** Lets the scripts run deinit(), then ends the thread. Safe to call twice. */
    close(): Promise<void>;
}
