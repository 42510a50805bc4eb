import type { Message, QoS } from './types.ts';
/** The last message published on one topic, as `broker.lastValue(topic)` and a script's `ms_get` see it. */
export interface LastValue {
    payload: Buffer;
    qos: QoS;
    retain: boolean;
    /** When it was published (ms since the epoch); the broker's start for a retained message loaded from the store. */
    at: number;
}
/** Topics kept when the cache is on and no size is given. */
export declare const defaultLastValues = 10000;
/**
 * The last message of each topic, by a client, a script or an embedder, retained or not: a
 * bounded cache in publish order, so the topic published least recently is dropped first.
 *
 * A Map for lookup plus a linked list for the order: a repeat publish on a topic updates its
 * entry and moves it to the end without touching the Map, and a full cache reuses the evicted
 * entry. A plain Map kept in order by delete + set measured 350-900 ns a message, and evicting
 * through `keys().next()` up to 11 µs, since V8 leaves deleted slots at the front of the table
 * until it rehashes; this layout measured 50-140 ns (scripts/bench-last-values.ts, busy 2-core
 * machine).
 */
export declare class LastValues {
    readonly capacity: number;
    private readonly entries;
    private oldest;
    private newest;
    /**
     * Date.now() once per event-loop task rather than per message: it cost 53 ns of CPU, the
     * largest part of a record(), and one socket read routes many messages under load.
     */
    private now;
    private nowValid;
    private readonly expireNow;
    constructor(capacity: number);
    get size(): number;
    get(topic: string): LastValue | undefined;
    /**
     * `at`: when it was published; default now. A QoS 0 payload that is not retained is a view
     * into the socket's read chunk (64 KiB), a script's publish batch or an embedder's buffer:
     * keeping it would pin the chunk or see the embedder's next write, so it is copied (into the
     * entry's own bytes when the size is unchanged, else `new Uint8Array(view)`: about 25 ns,
     * against 70 for Buffer.from). Retained and QoS 1/2 payloads are the broker's own already
     * (see the publish handler and broker.publish) and are shared.
     */
    record(message: Message, at?: number): void;
    /** Now, as of the current task: the microtask that expires it runs when the task ends. */
    private clock;
    private evict;
    private unlink;
}
