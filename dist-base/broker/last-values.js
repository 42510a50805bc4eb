/** Topics kept when the cache is on and no size is given. */
export const defaultLastValues = 10_000;
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
export class LastValues {
    capacity;
    entries = new Map();
    oldest;
    newest;
    /**
     * Date.now() once per event-loop task rather than per message: it cost 53 ns of CPU, the
     * largest part of a record(), and one socket read routes many messages under load.
     */
    now = 0;
    nowValid = false;
    expireNow = () => {
        this.nowValid = false;
    };
    constructor(capacity) {
        this.capacity = capacity;
    }
    get size() {
        return this.entries.size;
    }
    get(topic) {
        const entry = this.entries.get(topic);
        if (!entry)
            return undefined;
        return {
            // A copy: the entry's bytes may be overwritten by the topic's next message.
            payload: Buffer.from(entry.payload),
            qos: entry.qos,
            retain: entry.retain,
            at: entry.at,
        };
    }
    /**
     * `at`: when it was published; default now. A QoS 0 payload that is not retained is a view
     * into the socket's read chunk (64 KiB), a script's publish batch or an embedder's buffer:
     * keeping it would pin the chunk or see the embedder's next write, so it is copied (into the
     * entry's own bytes when the size is unchanged, else `new Uint8Array(view)`: about 25 ns,
     * against 70 for Buffer.from). Retained and QoS 1/2 payloads are the broker's own already
     * (see the publish handler and broker.publish) and are shared.
     */
    record(message, at = this.clock()) {
        const shared = message.qos > 0 || message.retain;
        let entry = this.entries.get(message.topic);
        if (entry) {
            // Same size as last time (a sensor's reading, ON/OFF): copied into the entry's own bytes.
            if (!shared && entry.owned && entry.payload.byteLength === message.payload.byteLength) {
                entry.payload.set(message.payload);
            }
            else {
                entry.payload = shared ? message.payload : new Uint8Array(message.payload);
                entry.owned = !shared;
            }
            entry.qos = message.qos;
            entry.retain = message.retain;
            entry.at = at;
            if (entry === this.newest)
                return;
            this.unlink(entry);
        }
        else {
            // Full: the entry of the topic published least recently is reused for this one.
            entry = this.entries.size >= this.capacity ? this.evict() : undefined;
            const payload = shared ? message.payload : new Uint8Array(message.payload);
            if (entry) {
                entry.topic = message.topic;
                entry.payload = payload;
                entry.owned = !shared;
                entry.qos = message.qos;
                entry.retain = message.retain;
                entry.at = at;
            }
            else {
                entry = {
                    topic: message.topic,
                    payload,
                    owned: !shared,
                    qos: message.qos,
                    retain: message.retain,
                    at,
                    older: undefined,
                    newer: undefined,
                };
            }
            this.entries.set(message.topic, entry);
        }
        entry.older = this.newest;
        entry.newer = undefined;
        if (this.newest)
            this.newest.newer = entry;
        else
            this.oldest = entry;
        this.newest = entry;
    }
    /** Now, as of the current task: the microtask that expires it runs when the task ends. */
    clock() {
        if (!this.nowValid) {
            this.now = Date.now();
            this.nowValid = true;
            queueMicrotask(this.expireNow);
        }
        return this.now;
    }
    evict() {
        const oldest = this.oldest;
        if (!oldest)
            return undefined;
        this.unlink(oldest);
        this.entries.delete(oldest.topic);
        return oldest;
    }
    unlink(entry) {
        if (entry.older)
            entry.older.newer = entry.newer;
        else
            this.oldest = entry.newer;
        if (entry.newer)
            entry.newer.older = entry.older;
        else
            this.newest = entry.older;
    }
}
//# sourceMappingURL=last-values.js.map