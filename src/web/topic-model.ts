import type { Message, QoS } from '../broker/types.ts'
import { present } from '../util/invariant.ts'

/**
 * The last message seen on one topic. Its payload is copied into a buffer the entry owns and
 * reuses: keeping the broker's payload would pin the socket's 64 KiB read buffer it is a view
 * of (+43% broker CPU in `npm run bench -- web`), and a fresh copy per message would be garbage
 * the GC has to promote.
 */
export class TopicEntry {
  private buf = EMPTY
  private length = 0
  qos: QoS = 0
  retain = false
  /** When the last message arrived (ms since the epoch), to the dashboard tick's resolution. */
  at = 0
  /** Messages seen on this topic since the dashboard began to keep it (see Recorder). */
  count = 0
  /** Whether `count` is an estimate: some of its messages were recorded while the Recorder sampled. */
  estimated = false
  /** Bumped with each message, for what is derived from the payload (devices.ts caches on it). */
  version = 0

  constructor(msg: Message, at: number, weight: number) {
    this.update(msg, at, weight)
  }

  /** A view of the entry's own copy: valid until its next message. */
  get payload(): Buffer {
    return this.buf.subarray(0, this.length)
  }

  update(msg: Message, at: number, weight: number): void {
    const size = msg.payload.length
    // Grown to fit, and shrunk when a large buffer holds a much smaller value.
    if (size > this.buf.length || (this.buf.length > 4096 && size < this.buf.length >> 2)) {
      this.buf = Buffer.allocUnsafe(capacityFor(size))
    }
    this.length = msg.payload.copy(this.buf)
    this.qos = msg.qos
    this.retain = msg.retain
    this.at = at
    this.count += weight
    if (weight !== 1) this.estimated = true
    this.version++
  }
}

const EMPTY = Buffer.alloc(0)

/** Room for a payload and some growth; small ones come from Node's shared 8 KiB pool. */
function capacityFor(size: number): number {
  return size <= 32 ? 32 : size <= 1024 ? 2 ** Math.ceil(Math.log2(size)) : size + (size >> 2)
}

/** One row of the topic tree as the page shows it. */
export interface TopicRow {
  path: string
  name: string
  depth: number
  /** Direct children in the tree (0 for a plain leaf). */
  children: number
  /** Topics with a value at or below this node. */
  topics: number
  expanded: boolean
  value?: TopicValue | undefined
}

export interface TopicValue {
  /** UTF-8 text, or `0x…` hex when the payload is not valid UTF-8; cut at PREVIEW_BYTES. */
  preview: string
  bytes: number
  retain: boolean
  qos: QoS
  at: number
  count: number
  /** The count was estimated from sampled messages (see Recorder). */
  estimated: boolean
}

export interface TopicPage {
  total: number
  offset: number
  rows: TopicRow[]
  /** All topics known (the tree's size), whatever the filter. */
  topicCount: number
}

const PREVIEW_BYTES = 300
const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Turns a payload into something printable; binary payloads become hex. */
export function previewPayload(payload: Buffer, limit = PREVIEW_BYTES): string {
  const cut = payload.length > limit
  // A cut may split a multi-byte character: back off up to 3 bytes to a character boundary.
  for (let end = Math.min(payload.length, limit), tries = cut ? 4 : 1; tries > 0; end--, tries--) {
    try {
      const text = utf8.decode(payload.subarray(0, end))
      return cut ? `${text}…` : text
    } catch {}
  }
  return `0x${payload.subarray(0, limit).toString('hex')}${cut ? '…' : ''}`
}

export function payloadText(entry: TopicEntry | undefined): string | undefined {
  return entry?.payload.toString('utf8')
}

interface TreeNode {
  children: Map<string, TreeNode>
  /** Children names in display order; rebuilt lazily after a child is added. */
  sorted: string[] | undefined
  topics: number
}

function newNode(): TreeNode {
  return { children: new Map(), sorted: undefined, topics: 0 }
}

function addToTree(root: TreeNode, topic: string): void {
  let node = root
  node.topics++
  for (const level of topic.split('/')) {
    let child = node.children.get(level)
    if (child === undefined) {
      child = newNode()
      node.children.set(level, child)
      node.sorted = undefined
    }
    child.topics++
    node = child
  }
}

/**
 * The live topic map behind the Topics, Devices and Home Assistant views. On each message it
 * is given (see Recorder for which) the broker pays for one Map lookup, a copy of the payload
 * into the topic's own buffer and a few field writes (`record`); the tree and the device index
 * are brought up to date only on the dashboard's batch tick (`ingest`).
 */
export class TopicModel {
  readonly entries = new Map<string, TopicEntry>()
  /** Bumped on every message, so the feed can tell whether anything changed since it last sent. */
  generation = 0
  private fresh: string[] = []
  /** Time of the last tick: messages are stamped with it, saving a clock read per message. */
  private clock = Date.now()
  private root = newNode()
  private readonly watchers: ((topic: string) => void)[] = []

  /**
   * The only per-message work, for each message the Recorder keeps; `weight` is how many
   * messages this one stands for when the Recorder samples.
   */
  record(msg: Message, weight = 1): void {
    this.generation++
    const entry = this.entries.get(msg.topic)
    if (entry !== undefined) {
      entry.update(msg, this.clock, weight)
      return
    }
    this.entries.set(msg.topic, new TopicEntry(msg, this.clock, weight))
    this.fresh.push(msg.topic)
  }

  /** Called once for every new topic during `ingest` (the device index). */
  onNewTopic(watcher: (topic: string) => void): void {
    this.watchers.push(watcher)
  }

  /** Adds topics first seen since the last tick to the tree and the indexes. */
  ingest(): void {
    this.clock = Date.now()
    this.index()
  }

  private index(): void {
    if (this.fresh.length === 0) return
    const fresh = this.fresh
    this.fresh = []
    for (const topic of fresh) {
      addToTree(this.root, topic)
      for (const watcher of this.watchers) watcher(topic)
    }
  }

  /** Forgets one topic (a value no longer kept current must not be shown as the last one). */
  delete(topic: string): void {
    if (!this.entries.has(topic)) return
    this.index()
    this.entries.delete(topic)
    this.generation++
    let node = this.root
    node.topics--
    for (const level of topic.split('/')) {
      // index() above put every level of every known topic in the tree.
      const child = present(node.children.get(level), 'the tree node of a known topic')
      if (--child.topics === 0) {
        node.children.delete(level)
        node.sorted = undefined
        return
      }
      node = child
    }
  }

  /** Forgets every topic but those `keep` accepts, rebuilding the tree from what is left. */
  prune(keep: (topic: string) => boolean): void {
    this.index()
    for (const topic of this.entries.keys()) if (!keep(topic)) this.entries.delete(topic)
    this.generation++
    const root = newNode()
    for (const topic of this.entries.keys()) addToTree(root, topic)
    this.root = root
  }

  get size(): number {
    return this.entries.size
  }

  /**
   * A page of the tree with `expanded` nodes opened; with a filter, a flat page of the topics
   * containing it instead (a tree of 10,000 topics is searched, not scrolled).
   */
  page(options: {
    offset: number
    limit: number
    expanded: ReadonlySet<string>
    filter: string
    /** Whether the broker holds a retained message for the topic (live deliveries clear the flag). */
    isRetained: (topic: string) => boolean
  }): TopicPage {
    const rows: TopicRow[] = []
    let total = 0
    const { offset, limit } = options
    const take = (make: () => TopicRow): void => {
      if (total >= offset && rows.length < limit) rows.push(make())
      total++
    }
    if (options.filter !== '') {
      const needle = options.filter.toLowerCase()
      const matches = [...this.entries.keys()].filter((t) => t.toLowerCase().includes(needle)).sort()
      for (const topic of matches) {
        take(() => ({
          path: topic,
          name: topic,
          depth: 0,
          children: 0,
          topics: 1,
          expanded: false,
          value: this.value(topic, options.isRetained),
        }))
      }
    } else {
      const walk = (node: TreeNode, prefix: string, depth: number): void => {
        node.sorted ??= [...node.children.keys()].sort()
        for (const name of node.sorted) {
          const child = present(node.children.get(name), 'the tree node of a sorted child name')
          const path = depth === 0 ? name : `${prefix}/${name}`
          const expanded = options.expanded.has(path)
          take(() => ({
            path,
            name,
            depth,
            children: child.children.size,
            topics: child.topics,
            expanded,
            value: this.value(path, options.isRetained),
          }))
          if (expanded && child.children.size > 0) walk(child, path, depth + 1)
        }
      }
      walk(this.root, '', 0)
    }
    return { total, offset, rows, topicCount: this.entries.size }
  }

  private value(topic: string, isRetained: (topic: string) => boolean): TopicValue | undefined {
    const entry = this.entries.get(topic)
    if (entry === undefined) return undefined
    return {
      preview: previewPayload(entry.payload),
      bytes: entry.payload.length,
      retain: entry.retain || isRetained(topic),
      qos: entry.qos,
      at: entry.at,
      count: entry.count,
      estimated: entry.estimated,
    }
  }
}
