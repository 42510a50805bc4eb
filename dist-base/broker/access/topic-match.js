/**
 * Topic and filter matching for access rules. Kept apart from the subscription tree because
 * ACL entries are few and checked one by one, while the tree is built for many subscribers.
 */
/** Whether `topic` (no wildcards) matches `filter`, with the `$` rule [MQTT-4.7.2-1]. */
export function topicMatches(filter, topic) {
    return covers(filter.split('/'), topic.split('/'), false);
}
/**
 * Whether every topic that `inner` can match is also matched by `outer` — the test for
 * letting a client subscribe to `inner` under an ACL entry `outer` (as Mosquitto 2 does, so a
 * grant on `home/#` does not admit a subscription to `#`).
 */
export function filterCovers(outer, inner) {
    return covers(outer.split('/'), inner.split('/'), true);
}
function covers(outer, inner, innerMayHaveWildcards) {
    // Wildcards at the first level never match topics starting with `$`.
    const first = inner[0] ?? '';
    if (first.startsWith('$') && (outer[0] === '+' || outer[0] === '#'))
        return false;
    for (let i = 0; i < outer.length; i++) {
        const level = outer[i];
        if (level === '#')
            return true;
        if (i >= inner.length)
            return false;
        const other = inner[i];
        if (innerMayHaveWildcards && other === '#')
            return false;
        if (level === '+') {
            continue;
        }
        if (innerMayHaveWildcards && other === '+')
            return false;
        if (level !== other)
            return false;
    }
    return outer.length === inner.length;
}
//# sourceMappingURL=topic-match.js.map