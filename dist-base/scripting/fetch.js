/**
 * The host side of `ms_fetch`: HTTP(S) requests made with Node's fetch in the scripting worker,
 * so neither the broker's thread nor other scripts ever wait for a server. Each script has one
 * FetchQueue; closing it (the script is unloaded or replaced) aborts every request it made.
 */
/**
 * Requests waiting for a slot, per script. A script that keeps queueing faster than servers
 * answer gets errors past this instead of growing the worker's memory without bound.
 */
export const MAX_QUEUED_FETCHES = 1000;
/** Checks a URL for ms_fetch; returns the problem, or undefined when it may be fetched. */
export function fetchUrlProblem(url) {
    let parsed;
    try {
        parsed = new URL(url);
    }
    catch {
        return `invalid URL: ${url}`;
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
        return `only http and https URLs are supported, not ${parsed.protocol.slice(0, -1)}: (${describeUrl(url)})`;
    }
    return undefined;
}
/** One script's requests: at most `maxFetchesInFlight` on the wire, the rest in FIFO order. */
export class FetchQueue {
    limits;
    waiting = [];
    running = new Set();
    closed = false;
    constructor(limits) {
        this.limits = limits;
    }
    get inFlight() {
        return this.running.size;
    }
    /** Starts or queues a request; `done` is called exactly once, unless the queue is closed first. */
    request(request, done) {
        if (this.closed)
            return;
        if (this.running.size < this.limits.maxFetchesInFlight) {
            this.start({ request, done });
            return;
        }
        if (this.waiting.length >= MAX_QUEUED_FETCHES) {
            done({ error: `${label(request)}: ${MAX_QUEUED_FETCHES} requests already waiting for a free slot` });
            return;
        }
        this.waiting.push({ request, done });
    }
    /** Aborts every request on the wire and drops the waiting ones; no `done` is called after this. */
    close() {
        if (this.closed)
            return;
        this.closed = true;
        this.waiting.length = 0;
        for (const controller of this.running)
            controller.abort(new Error('script unloaded'));
        this.running.clear();
    }
    start(job) {
        const controller = new AbortController();
        this.running.add(controller);
        void perform(job.request, controller, this.limits.maxFetchBytes).then((outcome) => {
            if (!this.running.delete(controller))
                return; // closed meanwhile
            const next = this.waiting.shift();
            if (next)
                this.start(next);
            job.done(outcome);
        });
    }
}
/** Runs one request to completion; never rejects. */
async function perform(request, controller, maxBytes) {
    let timedOut = false;
    const timer = setTimeout(() => {
        timedOut = true;
        controller.abort(new Error('timeout'));
    }, Math.min(request.timeoutMs, 2 ** 31 - 1));
    try {
        const res = await fetch(request.url, {
            method: request.method,
            headers: request.headers,
            body: request.body,
            signal: controller.signal,
        });
        const text = await readText(res, maxBytes, controller);
        const headers = {};
        for (const [name, value] of res.headers) {
            headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
        }
        return { response: { status: res.status, statusText: res.statusText, headers, text } };
    }
    catch (e) {
        if (e instanceof ResponseTooLarge)
            return { error: `${label(request)}: response larger than ${maxBytes} bytes` };
        if (timedOut)
            return { error: `${label(request)}: timed out after ${request.timeoutMs} ms` };
        return { error: `${label(request)} failed: ${reason(e)}` };
    }
    finally {
        clearTimeout(timer);
    }
}
class ResponseTooLarge extends Error {
}
/** The body as UTF-8 text; throws ResponseTooLarge (and aborts the request) past `maxBytes`. */
async function readText(res, maxBytes, controller) {
    const tooLarge = new ResponseTooLarge();
    const declared = Number(res.headers.get('content-length') ?? Number.NaN);
    if (declared > maxBytes) {
        controller.abort(tooLarge);
        throw tooLarge;
    }
    if (!res.body)
        return '';
    const chunks = [];
    let total = 0;
    for await (const chunk of res.body) {
        total += chunk.length;
        if (total > maxBytes) {
            controller.abort(tooLarge);
            throw tooLarge;
        }
        chunks.push(chunk);
    }
    return Buffer.concat(chunks, total).toString('utf8');
}
/** Names the request in errors; the query string is left out, since it may carry a token. */
function label(request) {
    return `ms_fetch ${request.method} ${describeUrl(request.url)}`;
}
function describeUrl(url) {
    try {
        const u = new URL(url);
        return `${u.protocol}//${u.host}${u.pathname}`;
    }
    catch {
        return url;
    }
}
/** Node's fetch reports network failures as "fetch failed" with the system error as the cause. */
function reason(e) {
    if (!(e instanceof Error))
        return String(e);
    const cause = e.cause;
    if (cause instanceof Error) {
        const code = cause.code;
        return code && !cause.message.includes(code) ? `${cause.message} (${code})` : cause.message;
    }
    return e.message;
}
//# sourceMappingURL=fetch.js.map