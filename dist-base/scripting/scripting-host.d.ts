import type { Logger } from 'pino';
import type { LastValue } from '../broker/last-values.ts';
import type { MessageHandler, PublishInput } from '../broker/types.ts';
import type { ResolvedScriptingOptions } from './options.ts';
import { type LimitKind } from './protocol.ts';
/** The part of the broker the scripting host uses. */
export interface ScriptBroker {
    readonly logger: Logger;
    publish(input: PublishInput): Promise<void>;
    subscribe(filter: string, handler: MessageHandler): () => void;
    setCredentials(user: string | undefined, pass: string | undefined): void;
    /** When present, the user configured at start, so ms_pass alone keeps it. */
    readonly auth?: {
        readonly username: string | undefined;
        readonly password?: string | undefined;
    };
    listen(port: number): Promise<number>;
    readonly port: number;
    /** ms_get reads the broker's last-value cache, which useLastValues turns on; without them ms_get finds nothing. */
    lastValue?(topic: string): LastValue | undefined;
    useLastValues?(): void;
    /** Where each script's `persist` is kept; without them it lasts only as long as the host. */
    loadScriptStates?(): Promise<Map<string, string>>;
    putScriptState?(name: string, json: string | undefined): void;
}
/** What the host itself tracks; the reports of a running script refine `running` (see ScriptState). */
type LoadState = 'loading' | 'running' | 'error' | 'stopped';
/**
 * `throttled`: running, but its ms_publish was rate-limited within the last `statusHoldMs`.
 * `over-limit`: running, but a limit aborted one of its calls within that time (see `limit`);
 * it wins over `throttled`, since calls are cut short and not only publishes dropped.
 */
export type ScriptState = LoadState | 'throttled' | 'over-limit';
/** `hard-cpu`: the watchdog stopped the script because one call outlived `hardCpuLimitMs`. */
export type ScriptLimitKind = LimitKind | 'hard-cpu';
export interface ScriptLimitHit {
    kind: ScriptLimitKind;
    at: Date;
    /** What was logged, e.g. `InternalError: out of memory: exceeded the memory limit of …`. */
    message: string;
    /** `file:line:column` (or just the file) of the aborted call; absent for a hard stop. */
    where?: string | undefined;
}
export interface ScriptThrottle {
    /** The last report; a script that keeps flooding is reported about once a second. */
    at: Date;
    /** Publishes dropped since the report before. */
    dropped: number;
    message: string;
}
export interface ScriptStatus {
    name: string;
    file: string;
    status: ScriptState;
    /** The last load or runtime failure, `file:line:column message`. Cleared by a successful load. */
    error?: string | undefined;
    /** The last limit hit of the running version, or the hard stop that stopped it. Cleared by a successful load. */
    limit?: ScriptLimitHit | undefined;
    /** The last time the running version's ms_publish was rate-limited. */
    throttled?: ScriptThrottle | undefined;
    subscriptions: number;
    timers: number;
    lastReload?: Date | undefined;
}
export interface ScriptingHost {
    /** Runs every script's deinit(), disposes the VMs, drops their subscriptions, stops watching. Idempotent. */
    close(): Promise<void>;
    scripts(): ScriptStatus[];
    /**
     * Loads a script again from its file even when the content is unchanged (a fresh VM, its
     * top level and init() run again; on failure the running version stays). False when no
     * script has that name.
     */
    reload(name: string): Promise<boolean>;
}
/**
 * Main-thread side of scripting: keeps the record of each script, mirrors the VMs'
 * subscriptions onto the broker, forwards publishes, and restarts the VM worker (without
 * the offending script) when the watchdog kills it.
 */
export declare class ScriptRunner implements ScriptingHost {
    private readonly broker;
    private readonly options;
    private readonly records;
    private readonly subs;
    private readonly timers;
    private readonly conditions;
    private readonly pending;
    private readonly log;
    private source;
    private watcher;
    private thread;
    private threadReady;
    private nextVmId;
    private user;
    private pass;
    private restarts;
    private closing;
    /** Each script's saved `persist` (JSON) by name, sent with every load; kept for deleted scripts too. */
    private states;
    constructor(broker: ScriptBroker, options: ResolvedScriptingOptions);
    start(): Promise<void>;
    scripts(): ScriptStatus[];
    reload(name: string): Promise<boolean>;
    close(): Promise<void>;
    /** A script's own file changed, or a module that scripts import: each of them is synced. */
    private fileChanged;
    /** Brings one script in line with its file: load, reload, or unload. */
    private sync;
    private syncNow;
    private load;
    private unload;
    private startThread;
    private onSyncRequest;
    /** The payload goes in a copy of its own: a view would be cloned with its whole buffer. */
    private lastValueReply;
    private onWorkerMessage;
    private publish;
    private subscribe;
    private dropVm;
    private loaded;
    private loadFailed;
    private scriptLog;
    private restart;
}
export {};
