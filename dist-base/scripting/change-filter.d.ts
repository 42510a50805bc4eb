/**
 * Topics one `{ changes: true }` subscription remembers. Past this, the topic whose payload
 * changed longest ago is forgotten, so its next message counts as a change again: the memory
 * stays bounded and the filter errs towards delivering, never towards losing a change.
 */
export declare const MAX_CHANGE_TOPICS = 1000;
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
export declare class ChangeFilter {
    private readonly maxTopics;
    private readonly last;
    private verbatimBytes;
    constructor(maxTopics?: number);
    get size(): number;
    /** Records `payload` as the topic's last one; true when it equals the one before. */
    repeats(topic: string, payload: Uint8Array): boolean;
    private forget;
}
