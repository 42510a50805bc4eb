import type { Logger } from 'pino';
/**
 * A config file kept parsed in memory and re-read, asynchronously, whenever it changes. A
 * reload that fails to read or parse is logged and the last good contents stay in force, so a
 * typo in the ACL never opens or closes the broker by accident.
 */
export declare class WatchedFile<T> {
    readonly path: string;
    private readonly what;
    private readonly parse;
    private readonly logger;
    value: T;
    private watcher;
    private timer;
    private reloading;
    private again;
    private readonly listeners;
    private constructor();
    /** Reads and parses the file once (errors reject, naming it), then starts watching. */
    static open<T>(path: string, what: string, parse: (text: string) => T, logger: Logger): Promise<WatchedFile<T>>;
    /** Called after each successful reload with the new and the previous contents. */
    onChange(listener: (next: T, previous: T) => void): void;
    close(): Promise<void>;
    private watch;
    private readonly schedule;
    private reload;
    private load;
}
