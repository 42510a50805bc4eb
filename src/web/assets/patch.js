// Updates a part of the page from fresh HTML in place, touching only the nodes that differ, so
// focus, a click in progress and the browser's layout survive frames four times a second. Rows
// keep their element when they move (matched by data-client-row, data-topic, data-device).

/** Rows are matched by these, so a row that moves (a client connecting above it) keeps its element. */
const KEYS = ['data-client-row', 'data-topic', 'data-device']
function keyOf(node) {
  if (node.nodeType !== Node.ELEMENT_NODE) return undefined
  for (const name of KEYS) {
    const value = node.getAttribute(name)
    if (value !== null) return `${name}=${value}`
  }
  return undefined
}

/** Makes `root`'s children look like `html`, touching only the nodes that differ. */
export function patch(root, html) {
  const next = document.createElement('template')
  next.innerHTML = html
  patchChildren(root, next.content)
}

const hasRows = (node) => node.firstElementChild !== null && keyOf(node.firstElementChild) !== undefined

function patchChildren(parent, source) {
  // Only lists of rows have keys; elsewhere children are matched by position.
  if (hasRows(parent) || hasRows(source)) patchRows(parent, source)
  else {
    let cursor = parent.firstChild
    for (let fresh = source.firstChild; fresh !== null; ) {
      const following = fresh.nextSibling
      if (cursor !== null && cursor.nodeName === fresh.nodeName) {
        patchNode(cursor, fresh)
        cursor = cursor.nextSibling
      } else parent.insertBefore(fresh, cursor)
      fresh = following
    }
    removeFrom(cursor)
  }
}

function patchRows(parent, source) {
  const keyed = new Map()
  for (const child of parent.children) {
    const key = keyOf(child)
    if (key !== undefined) keyed.set(key, child)
  }
  const wanted = new Set()
  for (const child of source.children) {
    const key = keyOf(child)
    if (key !== undefined) wanted.add(key)
  }
  let cursor = parent.firstChild
  for (let fresh = source.firstChild; fresh !== null; ) {
    const following = fresh.nextSibling
    // Rows that are gone are dropped first, so the ones after them stay where they are.
    while (cursor !== null && keyOf(cursor) !== undefined && !wanted.has(keyOf(cursor))) {
      const gone = cursor
      cursor = cursor.nextSibling
      gone.remove()
    }
    const key = keyOf(fresh)
    const old =
      key !== undefined ? keyed.get(key) : cursor !== null && keyOf(cursor) === undefined ? cursor : undefined
    if (old !== undefined && old.nodeName === fresh.nodeName) {
      keyed.delete(key)
      if (old === cursor) cursor = cursor.nextSibling
      else parent.insertBefore(old, cursor)
      patchNode(old, fresh)
    } else parent.insertBefore(fresh, cursor)
    fresh = following
  }
  removeFrom(cursor)
}

function removeFrom(node) {
  while (node !== null) {
    const gone = node
    node = node.nextSibling
    gone.remove()
  }
}

function patchNode(node, fresh) {
  // Most rows are unchanged from one frame to the next: one native comparison skips them.
  if (node.isEqualNode(fresh)) return
  if (node.nodeType !== Node.ELEMENT_NODE) {
    if (node.nodeValue !== fresh.nodeValue) node.nodeValue = fresh.nodeValue
    return
  }
  for (const { name, value } of fresh.attributes) {
    if (node.getAttribute(name) !== value) node.setAttribute(name, value)
  }
  for (const name of node.getAttributeNames()) if (!fresh.hasAttribute(name)) node.removeAttribute(name)
  patchChildren(node, fresh)
}
