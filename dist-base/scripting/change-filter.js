import { hash } from 'node:crypto';
/**
 * Topics one `{ changes: true }` subscription remembers. Past this, the topic whose payload
 * changed longest ago is forgotten, so its next message counts as a change again: the memory
 * stays bounded and the filter errs towards delivering, never towards losing a change.
 */
export const MAX_CHANGE_TOPICS = 1000;
/** Payloads kept verbatim per subscription, in bytes; beyond it, payloads are kept as digests. */
const VERBATIM_BUDGET = 64 * 1024;
/** Larger payloads are always kept as a SHA-256 digest (32 bytes). */
const MAX_VERBATIM = 4096;
/**
 * The memory behind `ms_subscribe(filter, cb, { changes: true })`: the last payload seen per
 * topic, so a message whose payload equals the previous one on its topic can be skipped before
 * it is packed for the guest. A state mirrored back and forth thus stops after one round.
 *
 * Payloads are compared byte for byte (memcmp: 1 KB costs about what 20 bytes do) while they
 * fit the subscription's verbatim budget; past it a digest is kept instead, which costs a hash
 * per message (~2 µs per KB) but bounds the memory at MAX_CHANGE_TOPICS × (topic + 32 bytes)
 * plus the budget.
 */
export class ChangeFilter {
    maxTopics;
    last = new Map();
    verbatimBytes = 0;
    constructor(maxTopics = MAX_CHANGE_TOPICS) {
        this.maxTopics = maxTopics;
    }
    get size() {
        return this.last.size;
    }
    /** Records `payload` as the topic's last one; true when it equals the one before. */
    repeats(topic, payload) {
        const previous = this.last.get(topic);
        if (previous !== undefined) {
            if (previous.size === payload.length) {
                const same = previous.digest ? previous.key.equals(sha256(payload)) : previous.key.equals(payload);
                if (same)
                    return true;
            }
            // Re-inserted at the back: eviction takes the topic that changed longest ago.
            this.forget(topic, previous);
        }
        else if (this.last.size >= this.maxTopics) {
            const oldest = this.last.entries().next();
            if (!oldest.done)
                this.forget(oldest.value[0], oldest.value[1]);
        }
        if (payload.length <= MAX_VERBATIM && this.verbatimBytes + payload.length <= VERBATIM_BUDGET) {
            this.verbatimBytes += payload.length;
            // Copied: a delivery's payload is a view into a batch buffer that must not be kept alive.
            this.last.set(topic, { size: payload.length, key: Buffer.from(payload), digest: false });
        }
        else {
            this.last.set(topic, { size: payload.length, key: sha256(payload), digest: true });
        }
        return false;
    }
    forget(topic, entry) {
        this.last.delete(topic);
        if (!entry.digest)
            this.verbatimBytes -= entry.size;
    }
}
function sha256(payload) {
    return hash('sha256', payload, 'buffer');
}
//# sourceMappingURL=change-filter.js.map