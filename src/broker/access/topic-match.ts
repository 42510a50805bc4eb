/**
 * Topic and filter matching for access rules. Kept apart from the subscription tree because
 * ACL entries are few and checked one by one, while the tree is built for many subscribers.
 */

/** Whether `topic` (no wildcards) matches `filter`, with the `$` rule [MQTT-4.7.2-1]. */
export function topicMatches(filter: string, topic: string): boolean {
  return covers(filter.split('/'), topic.split('/'), false)
}

/**
 * Whether every topic that `inner` can match is also matched by `outer` — the test for
 * letting a client subscribe to `inner` under an ACL entry `outer` (as Mosquitto 2 does, so a
 * grant on `home/#` does not admit a subscription to `#`).
 */
export function filterCovers(outer: string, inner: string): boolean {
  return covers(outer.split('/'), inner.split('/'), true)
}

function covers(outer: string[], inner: string[], innerMayHaveWildcards: boolean): boolean {
  // Wildcards at the first level never match topics starting with `$`.
  const first = inner[0] ?? ''
  if (first.startsWith('$') && (outer[0] === '+' || outer[0] === '#')) return false
  for (const [i, level] of outer.entries()) {
    if (level === '#') return true
    // Past the end of `inner` (split() leaves no holes, so undefined means exactly that).
    const other = inner[i]
    if (other === undefined) return false
    if (innerMayHaveWildcards && other === '#') return false
    if (level === '+') {
      continue
    }
    if (innerMayHaveWildcards && other === '+') return false
    if (level !== other) return false
  }
  return outer.length === inner.length
}
