// The Scripts view: each script's status (with the limit it ran into), subscriptions, timers and
// buttons, and the shared log. The editor tools and the script panel update from the same frame.
import { esc } from './dom.js'
import { num, time } from './format.js'
import { renderScriptPanel } from './script-console.js'
import { showScriptTools } from './script-editor.js'

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

export function renderScripts(d) {
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
}
