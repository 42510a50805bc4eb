/**
 * What makes a topic name or a topic filter valid: the one copy of these rules, used by the
 * broker (PUBLISH, CONNECT wills, SUBSCRIBE, broker.publish/subscribe, ACL files), the web
 * dashboard, the scripting host, and the guest side of scripts, where the functions' source is
 * evaluated inside QuickJS (see guest-prelude.ts).
 *
 * So that `.toString()` gives code that runs on its own, each function is self-contained: no
 * imports, no helpers, and no nested functions (tsx wraps those in a `__name` call that does
 * not exist in the guest). test/topic-rules.test.ts checks this.
 */

/**
 * Why a topic name (PUBLISH, will, broker.publish, ms_publish) is unusable, or undefined when it
 * is fine. Called for every PUBLISH, so it is one pass over the string.
 */
export function topicNameError(topic: string): string | undefined {
  if (topic.length === 0) return 'empty topic name [MQTT-4.7.3-1]'
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i)
    if (c === 0x2b || c === 0x23) return 'wildcard in topic name [MQTT-3.3.2-2]'
    if (c === 0) return 'U+0000 in topic name [MQTT-4.7.3-2]'
  }
  return undefined
}

/**
 * Why a topic filter is unusable, or undefined when it is fine: `+` must fill a whole level,
 * `#` must be the whole last level [MQTT-4.7.1-2, 4.7.1-3], and like a topic name it is not
 * empty and has no U+0000 [MQTT-4.7.3-1, 4.7.3-2]. A `$share/<group>/` prefix is not looked at
 * here (see parseSharedFilter). The message names the filter: scripts show it as it is.
 */
export function filterError(filter: string): string | undefined {
  if (filter.length === 0) return 'topic filter must not be empty'
  if (filter.includes('\u0000')) return 'topic filter must not contain NUL'
  const levels = filter.split('/')
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] ?? ''
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) {
      return `'#' must be a whole level and the last one: ${filter}`
    }
    if (level.includes('+') && level !== '+') return `'+' must be a whole level: ${filter}`
  }
  return undefined
}

export function isValidFilter(filter: string): boolean {
  return filterError(filter) === undefined
}

/** A topic name refused by topicNameError, for callers that answer with their own status (HTTP 400). */
export class InvalidTopicError extends Error {
  constructor(
    readonly topic: string,
    readonly problem: string,
  ) {
    super(`invalid topic ${JSON.stringify(topic)}: ${problem}`)
    this.name = 'InvalidTopicError'
  }
}

/**
 * A topic under `$SYS/`: the broker's own status, regenerated while it runs (src/ops), so its
 * retained messages are kept in memory and never written to the store.
 */
/**
 * Where bridges post their connection state (`<prefix><name>/state`, Mosquitto's notification
 * topic): the one part of $SYS a client may write.
 */
export const bridgeStatePrefix = '$SYS/broker/connection/'

export function bridgeStateTopic(name: string): string {
  return `${bridgeStatePrefix}${name}/state`
}

export function isSysTopic(topic: string): boolean {
  return topic.startsWith('$SYS/')
}

const sharePrefix = '$share/'

/**
 * `$share/<group>/<filter>` split into its parts; undefined for an ordinary filter, 'invalid'
 * for a malformed share name [MQTT-4.8.2-1, 4.8.2-2].
 */
export function parseSharedFilter(filter: string): { group: string; filter: string } | 'invalid' | undefined {
  if (!filter.startsWith(sharePrefix)) return undefined
  const slash = filter.indexOf('/', sharePrefix.length)
  if (slash < 0) return 'invalid'
  const group = filter.slice(sharePrefix.length, slash)
  if (group.length === 0 || /[+#]/.test(group)) return 'invalid'
  const rest = filter.slice(slash + 1)
  if (rest.length === 0) return 'invalid'
  return { group, filter: rest }
}
