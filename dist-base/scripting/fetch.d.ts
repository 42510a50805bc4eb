/**
 * The host side of `ms_fetch`: HTTP(S) requests made with Node's fetch in the scripting worker,
 * so neither the broker's thread nor other scripts ever wait for a server. Each script has one
 * FetchQueue; closing it (the script is unloaded or replaced) aborts every request it made.
 */
export interface FetchLimits {
    /** Default timeout of one request, from its start to the last byte of the response. */
    fetchTimeoutMs: number;
    /** Largest response body accepted; a larger one fails the request. */
    maxFetchBytes: number;
    /** Requests of one script on the wire at once; further ones wait for a free slot. */
    maxFetchesInFlight: number;
}
export interface FetchRequest {
    url: string;
    method: string;
    headers: Record<string, string>;
    body: string | Uint8Array | undefined;
    timeoutMs: number;
}
export interface FetchResponse {
    status: number;
    statusText: string;
    /** Lower-case names; repeated headers joined with ', '. */
    headers: Record<string, string>;
    text: string;
}
export type FetchOutcome = {
    response: FetchResponse;
} | {
    error: string;
};
/**
 * Requests waiting for a slot, per script. A script that keeps queueing faster than servers
 * answer gets errors past this instead of growing the worker's memory without bound.
 */
export declare const MAX_QUEUED_FETCHES = 1000;
/** Checks a URL for ms_fetch; returns the problem, or undefined when it may be fetched. */
export declare function fetchUrlProblem(url: string): string | undefined;
/** One script's requests: at most `maxFetchesInFlight` on the wire, the rest in FIFO order. */
export declare class FetchQueue {
    private readonly limits;
    private readonly waiting;
    private readonly running;
    private closed;
    constructor(limits: FetchLimits);
    get inFlight(): number;
    /** Starts or queues a request; `done` is called exactly once, unless the queue is closed first. */
    request(request: FetchRequest, done: (outcome: FetchOutcome) => void): void;
    /** Aborts every request on the wire and drops the waiting ones; no `done` is called after this. */
    close(): void;
    private start;
}
