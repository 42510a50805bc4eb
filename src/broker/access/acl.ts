import { present } from '../../util/invariant.ts'
import { isValidFilter } from '../topic-rules.ts'
import type { ClientIdentity } from '../types.ts'
import { filterCovers, topicMatches } from './topic-match.ts'

/** What an ACL line grants; `deny` takes precedence over any grant that also matches. */
export type AclAccess = 'read' | 'write' | 'readwrite' | 'deny'

/** What a client is trying to do: receive on a topic, publish to it, or subscribe to a filter. */
export type AclAction = 'read' | 'write' | 'subscribe'

export interface AclEntry {
  access: AclAccess
  /** A topic filter; for patterns it still holds `%c` / `%u`. */
  filter: string
  line: number
}

/** A parsed Mosquitto `acl_file`. */
export interface AclRules {
  /** `topic` lines before any `user` line: they apply to clients without a user name. */
  anonymous: AclEntry[]
  /** `topic` lines by the `user` they follow. */
  users: Map<string, AclEntry[]>
  /** `pattern` lines apply to every client, wherever they stand in the file. */
  patterns: AclEntry[]
}

export class AclSyntaxError extends Error {}

const accessWords = new Set<string>(['read', 'write', 'readwrite', 'deny'])

function isAccessWord(word: string): word is AclAccess {
  return accessWords.has(word)
}

/**
 * Parses Mosquitto's acl_file syntax: `user <name>`, `topic [read|write|readwrite|deny] <filter>`,
 * `pattern [read|write|readwrite|deny] <filter>` and `#` comments. The access word is optional
 * (readwrite); a filter may contain spaces, as in Mosquitto.
 */
export function parseAcl(text: string): AclRules {
  const rules: AclRules = { anonymous: [], users: new Map(), patterns: [] }
  let current = rules.anonymous
  const lines = text.split(/\r?\n/)
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const lineNo = i + 1
    const match = /^(\S+)\s+(.+)$/.exec(line)
    if (!match) throw new AclSyntaxError(`line ${lineNo}: expected "user", "topic" or "pattern" and a value`)
    const keyword = present(match[1], 'the ACL keyword')
    const rest = present(match[2], 'the ACL value')
    if (keyword === 'user') {
      let entries = rules.users.get(rest)
      if (!entries) {
        entries = []
        rules.users.set(rest, entries)
      }
      current = entries
    } else if (keyword === 'topic' || keyword === 'pattern') {
      const entry = parseEntry(rest, lineNo)
      if (keyword === 'topic') current.push(entry)
      else rules.patterns.push(entry)
    } else {
      throw new AclSyntaxError(`line ${lineNo}: unknown keyword "${keyword}"`)
    }
  }
  return rules
}

function parseEntry(rest: string, line: number): AclEntry {
  const match = /^(\S+)\s+(.+)$/.exec(rest)
  const word = match?.[1]
  const filter = match?.[2]
  if (word !== undefined && filter !== undefined && isAccessWord(word)) {
    return { access: word, filter: checkFilter(filter, line), line }
  }
  return { access: 'readwrite', filter: checkFilter(rest, line), line }
}

function checkFilter(filter: string, line: number): string {
  if (!isValidFilter(filter)) throw new AclSyntaxError(`line ${line}: invalid topic filter "${filter}"`)
  return filter
}

/**
 * Mosquitto's order: the client's own entries (its user's, or the anonymous ones), deny first;
 * then the patterns, deny first; anything not granted is refused.
 */
export function aclAllows(
  rules: AclRules,
  client: ClientIdentity,
  action: AclAction,
  topic: string,
): boolean {
  const own = client.username === undefined ? rules.anonymous : rules.users.get(client.username)
  if (own) {
    const verdict = decide(own, action, topic, (filter) => filter)
    if (verdict !== undefined) return verdict
  }
  return decide(rules.patterns, action, topic, (filter) => substitute(filter, client)) ?? false
}

function decide(
  entries: AclEntry[],
  action: AclAction,
  topic: string,
  resolve: (filter: string) => string | undefined,
): boolean | undefined {
  let granted = false
  for (const entry of entries) {
    const filter = resolve(entry.filter)
    if (filter === undefined) continue
    const hit = action === 'subscribe' ? filterCovers(filter, topic) : topicMatches(filter, topic)
    if (!hit) continue
    if (entry.access === 'deny') return false
    if (grants(entry.access, action)) granted = true
  }
  return granted ? true : undefined
}

function grants(access: AclAccess, action: AclAction): boolean {
  if (access === 'readwrite') return true
  if (access === 'read') return action === 'read' || action === 'subscribe'
  return access === 'write' && action === 'write'
}

/**
 * `%c` → client id, `%u` → user name. A pattern naming a value the client lacks, or one
 * carrying a wildcard or separator that would widen the filter, does not apply to it.
 */
function substitute(filter: string, client: ClientIdentity): string | undefined {
  if (!filter.includes('%')) return filter
  let unusable = false
  const result = filter.replace(/%([cu])/g, (_, which: string) => {
    const value = which === 'c' ? client.clientId : client.username
    if (value === undefined || value === '' || /[+#/]/.test(value)) unusable = true
    return value ?? ''
  })
  return unusable ? undefined : result
}
