/**
 * Topic and filter matching for access rules. Kept apart from the subscription tree because
 * ACL entries are few and checked one by one, while the tree is built for many subscribers.
 */
/** Whether `topic` (no wildcards) matches `filter`, with the `$` rule [MQTT-4.7.2-1]. */
export declare function topicMatches(filter: string, topic: string): boolean;
/**
 * Whether every topic that `inner` can match is also matched by `outer` — the test for
 * letting a client subscribe to `inner` under an ACL entry `outer` (as Mosquitto 2 does, so a
 * grant on `home/#` does not admit a subscription to `#`).
 */
export declare function filterCovers(outer: string, inner: string): boolean;
