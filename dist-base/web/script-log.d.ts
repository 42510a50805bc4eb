import type { Logger } from 'pino';
import type { Broker } from '../broker/broker.ts';
import type { ScriptBroker } from '../scripting/index.ts';
/** One line the scripting host logged: a script's print/console output, a load error, a reload. */
export interface ScriptLogLine {
    seq: number;
    at: number;
    level: string;
    script?: string | undefined;
    msg: string;
}
/** The last `capacity` lines of the scripting host's log, for the Scripts view's live tail. */
export declare class ScriptLog {
    private readonly capacity;
    private readonly lines;
    private seq;
    constructor(capacity?: number);
    /** Bumped on every line, so the feed knows when the Scripts view changed. */
    get generation(): number;
    add(level: string, args: readonly unknown[]): void;
    tail(limit?: number): ScriptLogLine[];
}
/**
 * A logger that writes through to `logger` and keeps each line in `log` as well; its children
 * do the same. A Proxy, so it stays a full pino Logger for the scripting host.
 */
export declare function teeLogger(logger: Logger, log: ScriptLog): Logger;
/**
 * The broker as the scripting host sees it, with a logger that also feeds the dashboard's log
 * tail. Everything else goes straight to the broker.
 */
export declare function scriptBrokerWithLog(broker: Broker, log: ScriptLog): ScriptBroker;
