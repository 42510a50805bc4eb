/**
 * A data directory that cannot be used as it is. The message names the path and what the
 * user can do, because the broker refuses to start rather than run without its state.
 */
export class DataDirError extends Error {
    path;
    constructor(path, problem, advice, options) {
        super(`data directory ${path}: ${problem}. ${advice}`, options);
        this.path = path;
        this.name = 'DataDirError';
    }
}
/** What to tell a user whose store cannot be read. */
export function resetAdvice(dir) {
    return (`Nothing was changed. Start with --data pointing at another directory, or, to discard the ` +
        `stored state, run: tinymqtt reset-data ${JSON.stringify(dir)}`);
}
export function describe(error) {
    return error instanceof Error ? error.message : String(error);
}
//# sourceMappingURL=errors.js.map