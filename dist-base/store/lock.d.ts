export declare const lockFileName = "tinymqtt.lock";
/** A held lock, or who holds it (pid undefined when the holder did not say in time). */
export type LockAttempt = {
    release: () => void;
} | {
    holder: number | undefined;
};
/**
 * Where a data directory's lock socket lives: `<dir>/tinymqtt.lock`, or, when that path is too
 * long for a Unix socket, `<tmpdir>/tinymqtt-<hash of the real directory path>.lock`.
 */
export declare function lockPath(dir: string): string;
/**
 * Takes the data directory for this process, or says who holds it. LMDB lets several
 * processes share a file, so two brokers would otherwise both write the same sessions.
 *
 * The lock is a Unix socket listening at lockPath(dir). The kernel closes it when its process
 * dies, however it dies and whether or not it has been reaped: a socket file left behind then
 * refuses connections and is replaced, while a live holder accepts them (and answers with its
 * pid). No pid is checked for liveness, so a recycled pid (a container restart, pid 1) never
 * blocks a start.
 */
export declare function tryLockDataDir(dir: string): Promise<LockAttempt>;
/** Takes the data directory for this process (see tryLockDataDir); returns the release function. */
export declare function lockDataDir(dir: string): Promise<() => void>;
