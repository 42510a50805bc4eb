/**
 * A data directory that cannot be used as it is. The message names the path and what the
 * user can do, because the broker refuses to start rather than run without its state.
 */
export declare class DataDirError extends Error {
    readonly path: string;
    constructor(path: string, problem: string, advice: string, options?: {
        cause?: unknown;
    });
}
/** What to tell a user whose store cannot be read. */
export declare function resetAdvice(dir: string): string;
export declare function describe(error: unknown): string;
