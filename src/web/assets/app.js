// tinymqtt dashboard: plain browser JavaScript, no build step (only the script editor, editor.js,
// is bundled). The server pushes the current view over /ws at most every 250 ms; this file only
// renders it and posts actions.

const state = { view: 'broker', offset: {}, filter: {}, expanded: new Set() }
let socket
const $ = (selector, root = document) => root.querySelector(selector)

const esc = (value) =>
  String(value ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  )

function bytes(n) {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let i = -1
  do {
    n /= 1024
    i++
  } while (n >= 1024 && i < units.length - 1)
  return `${n.toFixed(1)} ${units[i]}`
}
const num = (n) => Number(n).toLocaleString('en')
function duration(seconds) {
  seconds = Math.floor(seconds)
  const d = Math.floor(seconds / 86400)
  const h = Math.floor((seconds % 86400) / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  return d > 0 ? `${d}d ${h}h ${m}m` : h > 0 ? `${h}h ${m}m ${s}s` : m > 0 ? `${m}m ${s}s` : `${s}s`
}
const since = (date) => (date ? duration((Date.now() - new Date(date).getTime()) / 1000) : '–')
const time = (date) => (date ? new Date(date).toLocaleTimeString() : '–')
const protocol = { 3: '3.1', 4: '3.1.1', 5: '5.0' }

function request() {
  const view = state.view
  return {
    view,
    offset: state.offset[view] ?? 0,
    filter: state.filter[view] ?? '',
    expanded: [...state.expanded],
  }
}

function ask() {
  if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(request()))
}

function connect() {
  const link = $('#link')
  socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`)
  socket.onopen = () => {
    link.textContent = 'live'
    link.className = 'badge on'
    ask()
  }
  socket.onmessage = (event) => {
    const frame = JSON.parse(event.data)
    if (frame.request.view === state.view) render(frame.request.view, frame.data)
  }
  socket.onclose = () => {
    link.textContent = 'reconnecting…'
    link.className = 'badge off'
    setTimeout(connect, 2000)
  }
}

function show(view) {
  state.view = view
  for (const b of document.querySelectorAll('#tabs button'))
    b.classList.toggle('active', b.dataset.view === view)
  for (const s of document.querySelectorAll('.view')) s.hidden = s.id !== `view-${view}`
  ask()
}

function toast(text) {
  const t = $('#toast')
  t.textContent = text
  t.hidden = false
  clearTimeout(toast.timer)
  toast.timer = setTimeout(() => (t.hidden = true), 2500)
}

async function post(path, body) {
  const res = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  if (!res.ok) {
    const reason = await res.json().catch(() => ({ error: res.statusText }))
    throw new Error(reason.error ?? res.statusText)
  }
}

function pager(view, total, offset, pageSize) {
  if (total <= pageSize) return ''
  const last = Math.min(offset + pageSize, total)
  return `<div class="pager"><button class="small" data-page="${view}" data-offset="${Math.max(offset - pageSize, 0)}" ${offset === 0 ? 'disabled' : ''}>‹ prev</button>
    ${num(offset + 1)}–${num(last)} of ${num(total)}
    <button class="small" data-page="${view}" data-offset="${offset + pageSize}" ${last >= total ? 'disabled' : ''}>next ›</button></div>`
}

const limitNames = { memory: 'memory', cpu: 'CPU', stack: 'stack', 'hard-cpu': 'hard CPU' }
const limitName = (limit) => limitNames[limit.kind] ?? limit.kind
const overLimit = (limit) => `over a limit (${limitName(limit)})`

// throttled and over-limit last a few seconds after the script's last report (statusHoldMs).
function scriptStatus(s) {
  const label = s.status === 'over-limit' && s.limit ? overLimit(s.limit) : s.status
  let html = `<span class="badge ${esc(s.status)}">${esc(label)}</span>`
  if (s.status === 'over-limit' && s.limit) {
    html += `<div class="condition">${esc(time(s.limit.at))} · ${esc(s.limit.where ? `${s.limit.where} ` : '')}${esc(s.limit.message)}</div>`
  } else if (s.status === 'throttled' && s.throttled) {
    html += `<div class="condition">${esc(time(s.throttled.at))} · ${esc(s.throttled.message)}</div>`
  } else if (s.limit?.kind === 'hard-cpu' && (s.status === 'stopped' || s.status === 'error')) {
    // A hard stop: the error below has the whole story, the badge names the limit.
    html += ` <span class="badge over-limit">${esc(overLimit(s.limit))}</span><div class="condition">at ${esc(time(s.limit.at))}</div>`
  } else if (s.limit) {
    html += `<div class="condition past">last over the ${esc(limitName(s.limit))} limit at ${esc(time(s.limit.at))}</div>`
  }
  return html + (s.error ? `<pre class="error">${esc(s.error)}</pre>` : '')
}

const card = (label, big, sub = '') =>
  `<div class="card"><div class="label">${esc(label)}</div><div class="big">${big}</div><div class="sub">${sub}</div></div>`

const renderers = {
  broker(d) {
    const s = d.stats
    const r = d.rates
    return `<div class="cards">
      ${card('Uptime', esc(duration(s.uptimeSeconds)), `since ${esc(new Date(s.startedAt).toLocaleString())}`)}
      ${card('Connected clients', num(s.clients), `${num(s.connections)} connections · ${num(s.sessions)} sessions`)}
      ${card('Messages in', num(s.messagesIn), `${num(r.messagesIn)}/s`)}
      ${card('Messages out', num(s.messagesOut), `${num(r.messagesOut)}/s`)}
      ${card('Bytes in', esc(bytes(s.bytesIn)), `${esc(bytes(r.bytesIn))}/s`)}
      ${card('Bytes out', esc(bytes(s.bytesOut)), `${esc(bytes(r.bytesOut))}/s`)}
      ${card('Retained messages', num(s.retained), `${num(d.topics)} topics seen`)}
      ${card('Subscriptions', num(s.subscriptions))}
      ${card('Memory (RSS)', esc(bytes(s.memory.rss)), `heap ${esc(bytes(s.memory.heapUsed))}`)}
    </div>
    <h2>Listeners</h2>
    <table><thead><tr><th>Name</th><th>Type</th><th>Address</th><th>Port</th></tr></thead><tbody>
    ${d.listeners.map((l) => `<tr><td>${esc(l.name)}</td><td>${esc(l.type)}</td><td class="mono">${esc(l.host || '–')}</td><td class="num">${esc(l.port)}</td></tr>`).join('')}
    </tbody></table>`
  },

  clients(d) {
    if (d.total === 0) return '<p class="empty">No clients connected.</p>'
    const rows = d.clients
      .map(
        (c) => `<tr data-client-row="${esc(c.clientId)}">
        <td class="mono">${esc(c.clientId)}${c.username ? `<div class="sub">user ${esc(c.username)}</div>` : ''}</td>
        <td class="mono">${esc(c.address)}:${esc(c.port)}<div class="sub">${esc(c.listener)}</div></td>
        <td>${esc(protocol[c.protocolVersion] ?? c.protocolVersion)}</td>
        <td title="${esc(c.connectedAt)}">${esc(since(c.connectedAt))}</td>
        <td class="num">${esc(c.keepalive)}s</td>
        <td class="num">${esc(bytes(c.bytesIn))}<div class="sub">${num(c.packetsIn)} pkts</div></td>
        <td class="num">${esc(bytes(c.bytesOut))}<div class="sub">${num(c.packetsOut)} pkts</div></td>
        <td class="mono">${c.subscriptions.map((s) => `${esc(s.filter)} <span class="badge">QoS ${s.qos}</span>`).join('<br>') || '–'}</td>
        <td class="num">${num(c.inflight)} / ${num(c.queued)}</td>
        <td><button class="small danger" data-disconnect="${esc(c.clientId)}">Disconnect</button></td></tr>`,
      )
      .join('')
    return `<p>${num(d.total)} connected${d.matching !== d.total ? `, ${num(d.matching)} matching` : ''}</p>
      ${pager('clients', d.matching, d.offset, d.pageSize)}
      <table><thead><tr><th>Client id</th><th>Address</th><th>MQTT</th><th>Connected</th><th>Keepalive</th>
      <th>In</th><th>Out</th><th>Subscriptions</th><th>In flight / queued</th><th></th></tr></thead><tbody>${rows}</tbody></table>
      ${pager('clients', d.matching, d.offset, d.pageSize)}`
  },

  topics(d) {
    patch(
      $('#view-topics .devices'),
      d.devices.length
        ? d.devices
            .map(
              (dev) => `<div class="card device" data-device="${esc(dev.id)}">
          <strong>${esc(dev.id)}</strong> <span class="badge ${esc(dev.online)}">${esc(dev.online)}</span>
          <div class="relays">${
            dev.relays
              .map(
                (r) => `<div class="relay"><span class="mono">${esc(r.name)}</span>
              <span class="badge ${r.state.toUpperCase() === 'ON' ? 'on' : 'off'}">${esc(r.state)}</span>
              <button class="small" data-toggle="${esc(dev.id)}" data-relay="${esc(r.name)}">Toggle</button></div>`,
              )
              .join('') || '<span class="sub">no relays reported</span>'
          }</div></div>`,
            )
            .join('')
        : '<p class="empty">No devices yet (they appear from tele/&lt;device&gt;/LWT, stat/&lt;device&gt;/POWER…, tele/&lt;device&gt;/STATE).</p>',
    )
    const t = d.tree
    if (t.topicCount === 0) return '<p class="empty">No messages seen yet.</p>'
    const rows = t.rows
      .map((row) => {
        const v = row.value
        const toggle =
          row.children > 0
            ? `<button class="tree-toggle" data-expand="${esc(row.path)}" aria-label="${row.expanded ? 'collapse' : 'expand'}">${row.expanded ? '▾' : '▸'}</button>`
            : '<span class="tree-toggle"></span>'
        return `<tr data-topic="${esc(row.path)}"><td class="mono">${'<span class="indent"></span>'.repeat(row.depth)}${toggle}${esc(row.name || '(empty)')}
          ${row.children > 0 ? `<span class="sub">(${num(row.topics)})</span>` : ''}</td>
          <td class="mono value">${v ? esc(v.preview) : ''}</td>
          <td>${v ? `${v.retain ? '<span class="badge">retained</span> ' : ''}QoS ${v.qos}` : ''}</td>
          <td class="num"${v?.estimated ? ' title="estimated: recorded while the broker was too busy to record every message"' : ''}>${v ? `${v.estimated ? '≈' : ''}${num(v.count)}` : ''}</td><td>${v ? esc(time(v.at)) : ''}</td></tr>`
      })
      .join('')
    const sampling = d.sampling
      ? `<p class="note sampling">The broker is busy (${num(d.sampling.rate)} messages/s): about 1 message in ${num(d.sampling.oneIn)} is recorded here, so a value may lag, a topic published rarely may be missing, and counts marked ≈ are estimates. Devices and Home Assistant entities are recorded in full.</p>`
      : ''
    return `<p>${num(t.topicCount)} topics</p>${sampling}${pager('topics', t.total, t.offset, d.pageSize)}
      <table><thead><tr><th>Topic</th><th>Last value</th><th></th><th>Messages</th><th>At</th></tr></thead><tbody>${rows}</tbody></table>
      ${pager('topics', t.total, t.offset, d.pageSize)}`
  },

  scripts(d) {
    showScriptTools(d)
    renderScriptPanel(d)
    if (!d.enabled) return '<p class="empty">Scripting is off (start with --scripts &lt;path&gt;).</p>'
    const readOnly = d.editing.allowed ? '' : `<p class="note read-only">${esc(d.editing.reason)}</p>`
    if (d.scripts.length === 0) return `${readOnly}<p class="empty">No scripts loaded.</p>`
    return `<table><thead><tr><th>Script</th><th>Status</th><th>Subscriptions</th><th>Timers</th><th>Last reload</th><th></th></tr></thead><tbody>
      ${d.scripts
        .map(
          (
            s,
          ) => `<tr data-script="${esc(s.name)}"><td class="mono">${esc(s.name)}<div class="sub">${esc(s.file)}</div></td>
          <td>${scriptStatus(s)}</td>
          <td class="num">${num(s.subscriptions)}</td><td class="num">${num(s.timers)}</td><td>${esc(s.lastReload ? new Date(s.lastReload).toLocaleString() : '–')}</td>
          <td><button class="small" data-reload="${esc(s.name)}">Reload</button>${d.editing.allowed ? ` <button class="small" data-edit="${esc(s.name)}">Edit</button>` : ''}
            <button class="small" data-console="${esc(s.name)}">Log &amp; console</button></td></tr>`,
        )
        .join('')}</tbody></table>
      ${readOnly}<p class="note">Scripts reload when their file is saved, or with Reload.</p>
      <h2>Log <small>(last ${d.log.length} lines)</small></h2>
      ${
        d.log.length
          ? `<div class="log mono">${d.log
              .map(
                (
                  l,
                ) => `<div class="line ${esc(l.level)}"><span class="sub">${esc(time(l.at))}</span> <span class="badge ${l.level === 'error' || l.level === 'fatal' ? 'error' : l.level === 'warn' ? 'unknown' : ''}">${esc(l.level)}</span>
            ${l.script ? `<strong>${esc(l.script)}</strong>` : ''} <span class="msg">${esc(l.msg)}</span></div>`,
              )
              .join('')}</div>`
          : '<p class="empty">Nothing logged yet.</p>'
      }`
  },

  ha(d) {
    const malformed = d.malformed.length
      ? `<h2>Malformed discovery payloads</h2><table><thead><tr><th>Config topic</th><th>Problem</th><th>Payload</th></tr></thead><tbody>
        ${d.malformed.map((m) => `<tr data-malformed="${esc(m.configTopic)}"><td class="mono">${esc(m.configTopic)}</td><td><span class="badge malformed">malformed</span> ${esc(m.error)}</td><td class="mono value">${esc(m.payload)}</td></tr>`).join('')}
        </tbody></table>`
      : ''
    if (d.devices.length === 0 && !malformed)
      return '<p class="empty">No Home Assistant discovery configs seen (homeassistant/&lt;component&gt;/[&lt;node_id&gt;/]&lt;object_id&gt;/config).</p>'
    const devices = d.devices
      .map(
        (
          dev,
        ) => `<h2>${esc(dev.name)} <small>${esc([dev.manufacturer, dev.model].filter(Boolean).join(' · '))}</small></h2>
      <table><thead><tr><th>Entity</th><th>Component</th><th>State</th><th>Availability</th><th>State topic</th></tr></thead><tbody>
      ${dev.entities
        .map(
          (
            e,
          ) => `<tr data-entity="${esc(e.configTopic)}"><td>${esc(e.name)}<div class="sub mono">${esc(e.uniqueId ?? e.objectId)}</div></td>
          <td>${esc(e.component)}</td><td class="mono value">${e.state === undefined ? '–' : esc(e.state)}${e.unit && e.state !== undefined ? ` ${esc(e.unit)}` : ''}</td>
          <td><span class="badge ${esc(e.availability)}">${esc(e.availability)}</span></td><td class="mono">${esc(e.stateTopic ?? '–')}</td></tr>`,
        )
        .join('')}</tbody></table>`,
      )
      .join('')
    return devices + malformed
  },
}

// Clients and Topics get a frame up to four times a second. Setting innerHTML rebuilt every row
// each time: a focused button lost its focus, a click between mousedown and mouseup was lost,
// and the browser redid style and layout for all rows. These views are patched in place instead.
const PATCHED = new Set(['clients', 'topics'])

function render(view, data) {
  const root = $(`#view-${view} .content`)
  const html = renderers[view](data)
  if (PATCHED.has(view)) patch(root, html)
  else root.innerHTML = html
}

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
function patch(root, html) {
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

document.addEventListener('click', async (event) => {
  const target = event.target.closest('button')
  if (!target) return
  try {
    if (target.dataset.view) show(target.dataset.view)
    else if (target.dataset.expand !== undefined) {
      const path = target.dataset.expand
      if (state.expanded.has(path)) state.expanded.delete(path)
      else state.expanded.add(path)
      ask()
    } else if (target.dataset.page) {
      state.offset[target.dataset.page] = Number(target.dataset.offset)
      ask()
    } else if (target.dataset.reload !== undefined) {
      await post('/api/reload', { name: target.dataset.reload })
      toast(`Reloading ${target.dataset.reload}`)
    } else if (target.dataset.edit !== undefined) {
      await openScript(target.dataset.edit)
    } else if (target.dataset.disconnect !== undefined) {
      await post('/api/disconnect', { clientId: target.dataset.disconnect })
      toast(`Disconnected ${target.dataset.disconnect}`)
    } else if (target.dataset.toggle !== undefined) {
      const topic = `cmnd/${target.dataset.toggle}/${target.dataset.relay}`
      await post('/api/publish', { topic, payload: 'TOGGLE' })
      toast(`Sent ${topic} TOGGLE`)
    }
  } catch (error) {
    toast(`Failed: ${error.message}`)
  }
})

let filterTimer
document.addEventListener('input', (event) => {
  const input = event.target
  if (!input.classList.contains('filter')) return
  clearTimeout(filterTimer)
  filterTimer = setTimeout(() => {
    state.filter[input.dataset.for] = input.value
    state.offset[input.dataset.for] = 0
    ask()
  }, 200)
})

$('#publish').addEventListener('submit', async (event) => {
  event.preventDefault()
  const form = event.target
  const body = {
    topic: form.topic.value,
    payload: form.payload.value,
    qos: Number(form.qos.value),
    retain: form.retain.checked,
  }
  try {
    await post('/api/publish', body)
    toast(`Published to ${body.topic}`)
  } catch (error) {
    toast(`Failed: ${error.message}`)
  }
})

// Script editing: the editor (CodeMirror, bundled into editor.js at build time) is loaded on
// first use; the server decides whether this dashboard may change scripts (d.editing).
let editor
async function openScript(name) {
  const { openEditor } = await import('./editor.js')
  editor?.close()
  editor = await openEditor($('#script-editor'), name, { toast, onClosed: () => (editor = undefined) })
}

let scriptFilesAt = 0
function showScriptTools(d) {
  const tools = $('#view-scripts .script-tools')
  tools.hidden = !d.enabled || !d.editing.allowed
  if (!tools.hidden && Date.now() - scriptFilesAt > 5000) {
    scriptFilesAt = Date.now()
    listScriptFiles()
  }
}

async function listScriptFiles() {
  const res = await fetch('/api/scripts/files')
  if (!res.ok) return
  const { files } = await res.json()
  const select = $('#open-script select')
  const chosen = select.value
  select.innerHTML = files
    .map((f) => `<option value="${esc(f.name)}">${esc(f.name)}${f.script ? '' : ' (module)'}</option>`)
    .join('')
  if (files.some((f) => f.name === chosen)) select.value = chosen
}

$('#open-script').addEventListener('submit', async (event) => {
  event.preventDefault()
  try {
    await openScript(event.target.name.value)
  } catch (error) {
    toast(`Failed: ${error.message}`)
  }
})
$('#open-script select').addEventListener('focus', listScriptFiles)

$('#new-script').addEventListener('submit', async (event) => {
  event.preventDefault()
  const form = event.target
  let name = form.name.value.trim()
  if (!/\.m?js$/.test(name)) name += '.js'
  try {
    await post('/api/scripts/create', { name, content: `// ${name}\n` })
    form.reset()
    await openScript(name)
    listScriptFiles()
  } catch (error) {
    toast(`Failed: ${error.message}`)
  }
})

// ---- Script panel: the selected script's live log and its console ----------------------------
// The selected script travels as the Scripts view's `filter`; the server answers with its own
// log lines (`selected`); the console may be used where scripts may be edited (`editing`).

const scriptConsole = { name: '', history: [], back: 0, lastSeq: -1 }
const MAX_CONSOLE_LINES = 300

function openScriptPanel(name) {
  if (scriptConsole.name !== name) {
    scriptConsole.name = name
    scriptConsole.lastSeq = -1
    $('#console-out').replaceChildren()
    $('#script-panel-log').replaceChildren()
  }
  state.filter.scripts = name
  $('#script-panel-name').textContent = name
  $('#script-panel').hidden = false
  ask()
  $('#console-input').focus()
}

function closeScriptPanel() {
  scriptConsole.name = ''
  state.filter.scripts = ''
  $('#script-panel').hidden = true
  ask()
}

function renderScriptPanel(d) {
  const selected = d.selected
  if (!selected || selected.name !== scriptConsole.name) return
  const log = $('#script-panel-log')
  const last = selected.log.length ? selected.log[selected.log.length - 1].seq : 0
  if (last !== scriptConsole.lastSeq) {
    scriptConsole.lastSeq = last
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4
    log.innerHTML = selected.log.length
      ? selected.log
          .map(
            (l) =>
              `<div class="line ${esc(l.level)}"><span class="sub">${esc(time(l.at))}</span> <span class="badge ${l.level === 'error' || l.level === 'fatal' ? 'error' : l.level === 'warn' ? 'unknown' : ''}">${esc(l.level)}</span> <span class="msg">${esc(l.msg)}</span></div>`,
          )
          .join('')
      : '<p class="empty">Nothing logged by this script yet.</p>'
    if (atBottom) log.scrollTop = log.scrollHeight
  }
  const access = d.editing ?? { allowed: false, reason: 'Scripts are read-only here.' }
  const input = $('#console-input')
  input.disabled = !access.allowed
  $('#console-form button').disabled = !access.allowed
  const notice = $('#console-readonly')
  notice.hidden = access.allowed
  notice.textContent = access.allowed ? '' : access.reason
}

function consoleLine(kind, text) {
  const out = $('#console-out')
  const line = document.createElement('div')
  line.className = `console-line ${kind}`
  line.textContent = text
  out.append(line)
  while (out.childElementCount > MAX_CONSOLE_LINES) out.firstElementChild.remove()
  out.scrollTop = out.scrollHeight
}

async function evaluateInScript(name, expression) {
  consoleLine('input', `› ${expression}`)
  try {
    const res = await fetch('/api/scripts/eval', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, expression }),
    })
    const reply = await res.json().catch(() => ({ ok: false, error: res.statusText }))
    if (name !== scriptConsole.name) return
    if (res.ok && reply.ok) consoleLine('result', reply.result)
    else consoleLine('error', reply.error ?? res.statusText)
  } catch (error) {
    consoleLine('error', error.message)
  }
}

document.addEventListener('click', (event) => {
  const target = event.target.closest('button')
  if (target?.dataset.console !== undefined) openScriptPanel(target.dataset.console)
  else if (target?.dataset.closeScript !== undefined) closeScriptPanel()
})

$('#console-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const input = $('#console-input')
  const expression = input.value
  if (expression.trim() === '' || scriptConsole.name === '') return
  scriptConsole.history.push(expression)
  scriptConsole.back = 0
  input.value = ''
  void evaluateInScript(scriptConsole.name, expression)
})

$('#console-input').addEventListener('keydown', (event) => {
  if (event.key !== 'ArrowUp' && event.key !== 'ArrowDown') return
  const { history } = scriptConsole
  if (history.length === 0) return
  event.preventDefault()
  const back = scriptConsole.back + (event.key === 'ArrowUp' ? 1 : -1)
  scriptConsole.back = Math.max(0, Math.min(history.length, back))
  event.target.value = scriptConsole.back === 0 ? '' : history[history.length - scriptConsole.back]
})
// ---- end of the script panel ---------------------------------------------------------------

connect()
