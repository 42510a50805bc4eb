/**
 * A tree with one node per topic level and Map children (Mosquitto's subs.c and retain.c),
 * holding one value per path. The subscription tree keeps filters in it and looks up a topic;
 * the retained tree keeps topics and looks up a filter. Both walks, with the `$` rule, live here.
 */

export interface LevelNode<T> {
  /**
   * Shared and empty until the node gets a child (childrenOf): most nodes are leaves — a
   * client's own topic, a retained topic — and an empty Map costs about 230 bytes.
   */
  children: ReadonlyMap<string, LevelNode<T>>
  value: T | undefined
  readonly parent: LevelNode<T> | undefined
  readonly key: string
}

/** Called with each value matchTopic finds and the caller's `arg`, so a walk needs no closure per call. */
export type LevelVisitor<T, A> = (value: T, arg: A) => void

const noChildren: ReadonlyMap<string, never> = new Map<string, never>()

function newNode<T>(parent: LevelNode<T> | undefined, key: string): LevelNode<T> {
  return { children: noChildren, value: undefined, parent, key }
}

/** The node's own children map, made on first use. */
function childrenOf<T>(node: LevelNode<T>): Map<string, LevelNode<T>> {
  if (node.children === noChildren) node.children = new Map()
  return node.children as Map<string, LevelNode<T>>
}

export class LevelTree<T> {
  private readonly root: LevelNode<T> = newNode(undefined, '')

  /** The node at `path` (a topic or a filter, split at `/`), created with any missing levels. */
  open(path: string): LevelNode<T> {
    let node = this.root
    for (const level of path.split('/')) {
      let child = node.children.get(level)
      if (!child) {
        child = newNode(node, level)
        childrenOf(node).set(level, child)
      }
      node = child
    }
    return node
  }

  /** The node at `path`, or undefined when nothing was stored at or below it. */
  find(path: string): LevelNode<T> | undefined {
    let node: LevelNode<T> | undefined = this.root
    for (const level of path.split('/')) {
      node = node.children.get(level)
      if (!node) return undefined
    }
    return node
  }

  /**
   * Removes `node` and then each ancestor that is left with no value and no children, so churn
   * of unique topics doesn't grow the tree forever. A node that still holds something stays.
   */
  prune(node: LevelNode<T>): void {
    let at = node
    while (at.parent && at.value === undefined && at.children.size === 0) {
      childrenOf(at.parent).delete(at.key)
      at = at.parent
    }
  }

  /**
   * Visits the value of every stored filter that matches `topic`. At each level the `#` child
   * comes first, then (at the topic's end) the node itself, or else the `+` child and then the
   * literal child; so the cost grows with the topic's depth, not with the number of filters.
   * A topic starting with `$` is not matched by a leading wildcard [MQTT-4.7.2-1].
   */
  matchTopic<A>(topic: string, visit: LevelVisitor<T, A>, arg: A): void {
    walkTopic(this.root, topic.split('/'), 0, topic.charCodeAt(0) === 0x24, visit, arg)
  }

  /**
   * Appends to `out` the value of every stored topic that `filter` matches: `+` tries each
   * child, `#` takes the node (`a/#` matches `a`) and everything below it, and a leading
   * wildcard skips topics starting with `$` [MQTT-4.7.2-1].
   */
  matchFilter(filter: string, out: T[]): void {
    walkFilter(this.root, filter.split('/'), 0, out)
  }

  /** Appends every value to `out`, parents before children, children in insertion order. */
  collect(out: T[]): void {
    collectBelow(this.root, false, out)
  }
}

function walkTopic<T, A>(
  node: LevelNode<T>,
  levels: string[],
  depth: number,
  dollar: boolean,
  visit: LevelVisitor<T, A>,
  arg: A,
): void {
  const wildcardsAllowed = depth > 0 || !dollar
  const hash = wildcardsAllowed ? node.children.get('#') : undefined
  if (hash?.value !== undefined) visit(hash.value, arg)
  const level = levels[depth]
  if (level === undefined) {
    if (node.value !== undefined) visit(node.value, arg)
    return
  }
  if (wildcardsAllowed) {
    const plus = node.children.get('+')
    if (plus) walkTopic(plus, levels, depth + 1, dollar, visit, arg)
  }
  const literal = node.children.get(level)
  if (literal) walkTopic(literal, levels, depth + 1, dollar, visit, arg)
}

function walkFilter<T>(node: LevelNode<T>, levels: string[], depth: number, out: T[]): void {
  const level = levels[depth]
  if (level === undefined) {
    if (node.value !== undefined) out.push(node.value)
    return
  }
  const skipDollar = depth === 0
  if (level === '#') {
    if (node.value !== undefined && depth > 0) out.push(node.value)
    collectBelow(node, skipDollar, out)
    return
  }
  if (level === '+') {
    for (const [key, child] of node.children) {
      if (skipDollar && key.startsWith('$')) continue
      walkFilter(child, levels, depth + 1, out)
    }
    return
  }
  const child = node.children.get(level)
  if (child) walkFilter(child, levels, depth + 1, out)
}

function collectBelow<T>(node: LevelNode<T>, skipDollar: boolean, out: T[]): void {
  for (const [key, child] of node.children) {
    if (skipDollar && key.startsWith('$')) continue
    if (child.value !== undefined) out.push(child.value)
    collectBelow(child, false, out)
  }
}
