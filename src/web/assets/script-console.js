// The script panel: the selected script's live log and its console.
// The selected script travels as the Scripts view's `filter`; the server answers with its own
// log lines (`selected`); the console may be used where scripts may be edited (`editing`).
import { $, esc } from './dom.js'
import { time } from './format.js'
import { ask, state } from './live.js'

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

export function renderScriptPanel(d) {
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

/** Wires the Log & console and Close buttons, the console's input and its history keys. */
export function setupScriptConsole() {
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
}
