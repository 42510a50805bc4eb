/**
 * Topic names, topic filters and the subscription tree.
 *
 * The tree has one level per node (Mosquitto's subs.c): matching a topic walks the literal
 * child, then `+`, then `#` at each level, so the cost grows with the topic's depth, not
 * with the number of subscriptions.
 */
/** Why a PUBLISH topic is unusable, or undefined when it is fine. */
export declare function topicNameError(topic: string): string | undefined;
/** `+` must fill a whole level, `#` must be the whole last level [MQTT-4.7.1-2, 4.7.1-3]. */
export declare function isValidFilter(filter: string): boolean;
/** Subscribers S (sessions, internal handlers) keyed by filter, each with its options V. */
export declare class SubscriptionTree<S, V> {
    private readonly root;
    private count;
    get size(): number;
    /** Adds or replaces; returns true when the subscriber had no subscription on this filter. */
    add(filter: string, subscriber: S, value: V): boolean;
    remove(filter: string, subscriber: S): boolean;
    /** Calls visit once per (subscriber, filter) that matches; a subscriber may be visited more than once. */
    match(topic: string, visit: (subscriber: S, value: V) => void): void;
    private walk;
}
