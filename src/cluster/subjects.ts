/**
 * MQTT topics and filters as NATS subjects, reversibly.
 *
 * Layout: `<prefix>.<class>.<token>.<token>...`, one token per MQTT level.
 *
 * - `<class>` is `s` when the topic's first level starts with `$` and `t` otherwise. MQTT
 *   says a filter starting with a wildcard never matches a `$` topic [MQTT-4.7.2-1]; NATS has
 *   no such rule, so the class token keeps the two apart: `+/#` becomes `t.*` and `t.*.>`,
 *   which cannot match anything under `s`.
 * - A token keeps the characters `A-Z a-z 0-9 _ -` as they are. Every other character is
 *   written as its UTF-8 bytes, each as `=` and two upper-case hex digits (`.` → `=2E`,
 *   space → `=20`, `$` → `=24`, `é` → `=C3=A9`). The empty level is the token `=` alone,
 *   which no escape produces. So a token never contains `.`, `*`, `>` or white space, is
 *   never empty, and is also a valid JetStream KV key token (`[-/=.\w]`).
 * - Filters: `+` becomes `*`; a trailing `#` becomes `>`, and because MQTT's `a/#` also
 *   matches `a` itself [MQTT-4.7.1-2] the filter maps to two subjects, `…a` and `…a.>`. These
 *   never overlap (different token counts), so a message matches at most one of them.
 *
 * The mapping is a bijection between well-formed topics (no lone UTF-16 surrogates; a topic
 * decoded from the wire never has one) and canonical subjects: `subjectToTopic` refuses any
 * subject `topicToSubject` would not produce (lower-case hex, escaped plain characters,
 * invalid UTF-8), so both round trips hold. An escaped byte takes three characters, so a long
 * non-ASCII topic can outgrow the server's max_control_line (4 KiB by default); callers check
 * `subject.length` where it matters.
 */

import { createHash } from 'node:crypto'

/** `A-Z a-z 0-9 _ -`: the characters a token keeps as they are. */
function isPlain(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x5f || // _
    c === 0x2d // -
  )
}

/**
 * Whether `path` is non-empty plain levels separated by `sep` (no empty level): the case
 * where a topic and its subject differ only in the separator.
 */
function isPlainPath(path: string, sep: number): boolean {
  if (path.length === 0) return false
  let prevSep = true
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i)
    if (c === sep) {
      if (prevSep) return false
      prevSep = true
    } else if (isPlain(c)) prevSep = false
    else return false
  }
  return !prevSep
}

const HEX = '0123456789ABCDEF'

function escapeByte(b: number): string {
  return `=${HEX.charAt(b >> 4)}${HEX.charAt(b & 15)}`
}

/** The token for one MQTT level. Throws on a lone surrogate, which has no UTF-8 form. */
export function levelToToken(level: string): string {
  if (level.length === 0) return '='
  let i = 0
  while (i < level.length && isPlain(level.charCodeAt(i))) i++
  if (i === level.length) return level
  let out = level.slice(0, i)
  for (; i < level.length; i++) {
    const c = level.charCodeAt(i)
    if (isPlain(c)) {
      out += level.charAt(i)
      continue
    }
    let cp = c
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = level.charCodeAt(i + 1)
      if (c > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff))
        throw new TypeError('topic level has a lone surrogate and no UTF-8 form')
      cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00)
      i++
    }
    if (cp < 0x80) out += escapeByte(cp)
    else if (cp < 0x800) out += escapeByte(0xc0 | (cp >> 6)) + escapeByte(0x80 | (cp & 63))
    else if (cp < 0x10000)
      out +=
        escapeByte(0xe0 | (cp >> 12)) + escapeByte(0x80 | ((cp >> 6) & 63)) + escapeByte(0x80 | (cp & 63))
    else
      out +=
        escapeByte(0xf0 | (cp >> 18)) +
        escapeByte(0x80 | ((cp >> 12) & 63)) +
        escapeByte(0x80 | ((cp >> 6) & 63)) +
        escapeByte(0x80 | (cp & 63))
  }
  return out
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10
  return -1
}

/** Characters of a shareId. */
export const SHARE_ID_LENGTH = 12

/**
 * A `$share` group on a filter as one subject token of SHARE_ID_LENGTH characters (72 bits of
 * a SHA-256 of both): the token of its kept copies' subjects and of routing envelopes.
 */
export function shareId(group: string, filter: string): string {
  return createHash('sha256').update(`${group}\u0000${filter}`).digest('base64url').slice(0, SHARE_ID_LENGTH)
}

/** The MQTT level for a token, or undefined when the token is not one `levelToToken` makes. */
export function tokenToLevel(token: string): string | undefined {
  if (token === '=') return ''
  if (token.length === 0) return undefined
  if (!token.includes('=')) {
    for (let i = 0; i < token.length; i++) if (!isPlain(token.charCodeAt(i))) return undefined
    return token
  }
  let out = ''
  let bytes: number[] | undefined
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i)
    if (c === 0x3d) {
      const hi = hexDigit(token.charCodeAt(i + 1))
      const lo = hexDigit(token.charCodeAt(i + 2))
      // A plain character written escaped is not canonical: refusing it keeps the mapping 1:1.
      if (hi < 0 || lo < 0 || isPlain((hi << 4) | lo)) return undefined
      const b = (hi << 4) | lo
      bytes ??= []
      bytes.push(b)
      i += 2
      continue
    }
    if (!isPlain(c)) return undefined
    if (bytes) {
      const run = decodeRun(bytes)
      if (run === undefined) return undefined
      out += run
      bytes = undefined
    }
    out += token.charAt(i)
  }
  if (bytes) {
    const run = decodeRun(bytes)
    if (run === undefined) return undefined
    out += run
  }
  return out
}

function decodeRun(bytes: number[]): string | undefined {
  try {
    return utf8.decode(Uint8Array.from(bytes))
  } catch {
    return undefined
  }
}

/** Characters a subject prefix may not contain (it is `.`-separated plain tokens). */
const PREFIX_RE = /^(?:[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)?$/

/**
 * Maps topics and filters under one subject prefix (for example `tmq.retained`). The empty
 * prefix gives bare keys (`t.a.b`), the form JetStream KV keys take.
 */
export class SubjectMapper {
  readonly prefix: string
  /** `prefix.` or '' — what every subject starts with. */
  private readonly head: string

  constructor(prefix: string) {
    if (!PREFIX_RE.test(prefix)) throw new RangeError(`invalid subject prefix '${prefix}'`)
    this.prefix = prefix
    this.head = prefix === '' ? '' : `${prefix}.`
  }

  /** The subject a message on `topic` goes to. */
  topicToSubject(topic: string): string {
    // Most topics are plain levels: then the subject is the topic with `/` turned into `.`.
    if (isPlainPath(topic, 0x2f)) return `${this.head}t.${topic.replaceAll('/', '.')}`
    let out = this.head + (topic.charCodeAt(0) === 0x24 ? 's' : 't')
    let start = 0
    for (;;) {
      const end = topic.indexOf('/', start)
      out += `.${levelToToken(end === -1 ? topic.slice(start) : topic.slice(start, end))}`
      if (end === -1) return out
      start = end + 1
    }
  }

  /** The topic for a subject, or undefined when the subject is not one `topicToSubject` makes. */
  subjectToTopic(subject: string): string | undefined {
    if (!subject.startsWith(this.head)) return undefined
    if (subject.startsWith('t.', this.head.length)) {
      const rest = subject.slice(this.head.length + 2)
      if (isPlainPath(rest, 0x2e)) return rest.replaceAll('.', '/')
    }
    const tokens = subject.slice(this.head.length).split('.')
    const cls = tokens[0]
    if ((cls !== 't' && cls !== 's') || tokens.length < 2) return undefined
    const levels: string[] = []
    for (let i = 1; i < tokens.length; i++) {
      const level = tokenToLevel(tokens[i] ?? '')
      if (level === undefined) return undefined
      levels.push(level)
    }
    const topic = levels.join('/')
    // The class must agree with the topic, or two subjects would name one topic.
    return (topic.charCodeAt(0) === 0x24) === (cls === 's') ? topic : undefined
  }

  /**
   * The NATS subject filters that together match exactly the topics the MQTT filter matches:
   * one, or two for a trailing `#` after other levels. Throws RangeError for an invalid filter
   * (`#` not alone in the last level, `+` not alone in its level, empty filter).
   */
  filterToSubjects(filter: string): string[] {
    if (filter.length === 0) throw new RangeError('empty topic filter')
    const levels = filter.split('/')
    const first = levels[0] ?? ''
    const cls = first.charCodeAt(0) === 0x24 ? 's' : 't'
    let out = this.head + cls
    for (let i = 0; i < levels.length; i++) {
      const level = levels[i] ?? ''
      if (level === '#') {
        if (i !== levels.length - 1) throw new RangeError(`'#' is not the last level in '${filter}'`)
        // `#` alone matches every topic of its class; `a/#` matches `a` and everything below.
        return i === 0 ? [`${out}.>`] : [out, `${out}.>`]
      }
      if (level === '+') {
        out += '.*'
        continue
      }
      if (level.includes('#') || level.includes('+'))
        throw new RangeError(`wildcard inside a level in '${filter}'`)
      out += `.${levelToToken(level)}`
    }
    return [out]
  }
}
