import type { Message } from './types.ts';
/**
 * Retained messages in a tree keyed by topic level (Mosquitto's retain.c), searched by
 * filter: a subscription to `a/+/c` visits only the `a` branch, not every retained topic.
 */
export declare class RetainedTree {
    private readonly root;
    private count;
    get size(): number;
    /** Stores the message, or deletes the topic's retained message when the payload is empty. */
    set(message: Message): void;
    get(topic: string): Message | undefined;
    delete(topic: string): void;
    /**
     * Every retained message whose topic matches the filter. Expired ones are left out
     * (expiry is checked on read, as in Mosquitto's retain.c).
     */
    match(filter: string): Message[];
    /** Every retained message, in tree order. */
    all(): Message[];
    private walk;
}
