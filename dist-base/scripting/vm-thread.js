import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { MessageChannel, Worker } from 'node:worker_threads';
import { DeliveryPacker } from "./batch-packers.js";
import { BUSY_SINCE, BUSY_VM, } from "./protocol.js";
import { wasm } from "./wasm.js";
const WATCHDOG_INTERVAL_MS = 50;
/** Deliveries per postMessage at most. */
const DELIVERY_SLICE = 2048;
const CLOSE_TIMEOUT_MS = 3000;
let compiled;
/** Compiled once per process; each VM instantiates it with its own capped memory. */
export function quickjsWasmModule() {
    compiled ??= (async () => {
        const require = createRequire(import.meta.url);
        const fromQuickjs = createRequire(require.resolve('quickjs-emscripten'));
        const bytes = await readFile(fromQuickjs.resolve('@jitl/quickjs-wasmfile-release-sync/wasm'));
        return wasm.compile(bytes);
    })();
    return compiled;
}
function newWorker(data, transferList) {
    const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
    const url = new URL(`./vm-worker${ext}`, import.meta.url);
    if (ext === '.js')
        return new Worker(url, { workerData: data, transferList });
    // Running from source: loader hooks given with --import do not reach worker threads on
    // Node 20, so the worker registers tsx itself before importing the TypeScript entry.
    const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url.href)}) })`;
    return new Worker(boot, { eval: true, workerData: data, transferList });
}
/**
 * The worker thread that runs the VMs: batches messages to it, answers its synchronous
 * requests, and terminates it when one call into a script outlives the hard CPU limit.
 */
export class VmThread {
    worker;
    hardCpuLimitMs;
    outbox = [];
    packer = new DeliveryPacker();
    scheduled = false;
    busy;
    watchdog;
    closing = false;
    exited = false;
    /** The VM that was running when the watchdog terminated the worker. */
    killedFor;
    lastError;
    closedWaiter;
    constructor(worker, busy, hardCpuLimitMs) {
        this.worker = worker;
        this.hardCpuLimitMs = hardCpuLimitMs;
        this.busy = new Float64Array(busy);
        this.watchdog = setInterval(() => this.checkWatchdog(), WATCHDOG_INTERVAL_MS);
        this.watchdog.unref();
    }
    static async start(limits, events) {
        const wasmModule = await quickjsWasmModule();
        const busy = new SharedArrayBuffer(2 * Float64Array.BYTES_PER_ELEMENT);
        const syncFlag = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
        const channel = new MessageChannel();
        const data = { limits, wasmModule, busy, syncFlag, syncPort: channel.port2 };
        const worker = newWorker(data, [channel.port2]);
        const thread = new VmThread(worker, busy, limits.hardCpuLimitMs);
        const flag = new Int32Array(syncFlag);
        channel.port1.on('message', (req) => {
            void events
                .onSyncRequest(req)
                .catch((e) => ({ ok: false, message: e instanceof Error ? e.message : String(e) }))
                .then((reply) => {
                channel.port1.postMessage(reply);
                Atomics.store(flag, 0, 1);
                Atomics.notify(flag, 0);
            });
        });
        channel.port1.unref();
        worker.on('message', (batch) => {
            if (batch.some((m) => m.t === 'closed'))
                thread.closedWaiter?.();
            events.onMessages(batch);
        });
        worker.on('error', (err) => {
            thread.lastError = err;
        });
        worker.on('exit', () => {
            thread.exited = true;
            clearInterval(thread.watchdog);
            channel.port1.close();
            thread.closedWaiter?.();
            if (thread.closing)
                return;
            const offenderVmId = thread.killedFor;
            const reason = offenderVmId !== undefined
                ? `a call ran longer than the hard CPU limit of ${limits.hardCpuLimitMs} ms`
                : `the scripting worker crashed${thread.lastError ? `: ${thread.lastError.message}` : ''}`;
            events.onExit({ offenderVmId, reason });
        });
        await new Promise((resolve, reject) => {
            worker.once('online', resolve);
            worker.once('error', reject);
        });
        return thread;
    }
    send(msg) {
        if (this.exited)
            return;
        // Keeps order: deliveries routed before this message reach the worker before it.
        this.sealDeliveries();
        this.schedule();
        this.outbox.push(msg);
    }
    /** Queues a message for a script subscription; many of them travel as one packed batch. */
    deliver(vmId, subId, message) {
        if (this.exited)
            return;
        this.schedule();
        this.packer.add(vmId, subId, message);
        // A long burst routed in one turn goes out in slices, so the worker starts on it early.
        if (this.packer.count >= DELIVERY_SLICE)
            this.flush();
    }
    sealDeliveries() {
        const batch = this.packer.seal();
        if (batch)
            this.outbox.push(batch);
    }
    schedule() {
        if (this.scheduled)
            return;
        this.scheduled = true;
        queueMicrotask(() => {
            this.scheduled = false;
            this.flush();
        });
    }
    flush() {
        this.sealDeliveries();
        const batch = this.outbox;
        this.outbox = [];
        if (batch.length === 0 || this.exited)
            return;
        const transfer = batch.flatMap((m) => m.t === 'deliveries' ? [m.meta.buffer, m.payloads.buffer] : []);
        this.worker.postMessage(batch, transfer);
    }
    checkWatchdog() {
        const since = this.busy[BUSY_SINCE];
        if (since === 0 || this.exited || this.killedFor !== undefined)
            return;
        if (Date.now() - since <= this.hardCpuLimitMs)
            return;
        this.killedFor = this.busy[BUSY_VM];
        void this.worker.terminate();
    }
    /** Lets the scripts run deinit(), then ends the thread. Safe to call twice. */
    async close() {
        if (this.exited)
            return;
        if (!this.closing) {
            this.closing = true;
            const closed = new Promise((resolve) => {
                this.closedWaiter = resolve;
            });
            this.send({ t: 'close' });
            const timer = setTimeout(() => this.closedWaiter?.(), CLOSE_TIMEOUT_MS);
            await closed;
            clearTimeout(timer);
        }
        clearInterval(this.watchdog);
        await this.worker.terminate();
    }
}
//# sourceMappingURL=vm-thread.js.map