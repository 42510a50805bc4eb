// The Scripts view's code editor: CodeMirror 6 with JavaScript highlighting, completion of the
// script globals (from examples/tinymqtt.d.ts, see scripts/build-editor.mjs), save with the
// button or Ctrl/Cmd+S, a load error marked where it is, and a notice when the file changes on
// disk. Bundled by esbuild into assets/editor.js; script-editor.js imports it when a script is opened.

import globals from 'tinymqtt:globals'
import { javascript, javascriptLanguage } from '@codemirror/lang-javascript'
import { syntaxTree } from '@codemirror/language'
import { lintGutter, setDiagnostics } from '@codemirror/lint'
import { Prec } from '@codemirror/state'
import { keymap } from '@codemirror/view'
import { basicSetup, EditorView } from 'codemirror'

/** How often the open file is compared with the disk. */
const POLL_MS = 1500

const completions = globals.map((g) => ({
  label: g.name,
  type: g.kind === 'function' ? 'function' : 'variable',
  detail: g.kind === 'function' ? 'function' : '',
  info: () => {
    const box = document.createElement('div')
    box.className = 'ms-doc'
    const signature = document.createElement('pre')
    signature.textContent = g.signature
    box.append(signature)
    if (g.doc) {
      const doc = document.createElement('p')
      doc.textContent = g.doc
      box.append(doc)
    }
    return box
  },
}))

/** Script globals, offered for a name being typed outside strings, comments and `x.` members. */
function completeGlobals(context) {
  const word = context.matchBefore(/[\w$]+/)
  if (!word && !context.explicit) return null
  const from = word ? word.from : context.pos
  if (context.state.sliceDoc(from - 1, from) === '.') return null
  const node = syntaxTree(context.state).resolveInner(context.pos, -1)
  if (/String|Comment|Template/.test(node.name)) return null
  return { from, options: completions, validFor: /^[\w$]*$/ }
}

const theme = EditorView.theme({
  '&': { height: '100%', fontSize: '13px', backgroundColor: '#fff' },
  '.cm-scroller': { fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace' },
  '.ms-doc': { maxWidth: '34em', padding: '4px 6px' },
  '.ms-doc pre': { margin: '0 0 4px', whiteSpace: 'pre-wrap', fontSize: '12px' },
  '.ms-doc p': { margin: '0', whiteSpace: 'pre-wrap' },
})

async function api(path, body) {
  const res = await fetch(
    path,
    body === undefined
      ? {}
      : {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        },
  )
  const data = await res.json().catch(() => ({ error: res.statusText }))
  return { status: res.status, data }
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag)
  Object.assign(node, props)
  node.append(...children)
  return node
}

/**
 * Opens `name` in `pane` (emptied first). `onClosed` runs when the editor closes, `toast` shows
 * short messages. Returns { close }.
 */
export async function openEditor(pane, name, { onClosed = () => {}, toast = () => {} } = {}) {
  const { status, data } = await api(`/api/scripts/file?name=${encodeURIComponent(name)}`)
  if (status !== 200) throw new Error(data.error ?? `HTTP ${status}`)

  let current = { name: data.name, version: data.version, saved: data.content }
  let saving = false
  let closed = false
  /** The disk version the notice is about, so it is not shown again for the same change. */
  let noticed

  const state = el('span', { className: 'editor-state' })
  const title = el('strong', { className: 'editor-name mono', textContent: current.name })
  const renameInput = el('input', { className: 'editor-rename', value: current.name, ariaLabel: 'new name' })
  const button = (label, action, extra = '') => {
    const b = el('button', { type: 'button', className: `small ${extra}`, textContent: label })
    b.dataset.editor = action
    return b
  }
  const bar = el(
    'div',
    { className: 'editor-bar' },
    title,
    state,
    button('Save', 'save'),
    renameInput,
    button('Rename', 'rename'),
    button('Delete', 'delete', 'danger'),
    button('Close', 'close'),
  )
  const noticeText = el('span')
  const notice = el(
    'div',
    { className: 'editor-notice', hidden: true },
    noticeText,
    button('Reload from disk', 'reload'),
    button('Overwrite with mine', 'overwrite'),
  )
  const problem = el('pre', { className: 'editor-problem error', hidden: true })
  const host = el('div', { className: 'editor-cm' })
  const root = el('div', { className: 'editor' }, bar, notice, problem, host)
  pane.replaceChildren(root)
  pane.hidden = false

  // A shadow root: CodeMirror then styles itself with a constructed style sheet rather than a
  // <style> element, which the dashboard's Content-Security-Policy (style-src 'self') refuses.
  const shadow = host.attachShadow({ mode: 'open' })
  const mount = el('div', { className: 'cm-mount' })
  mount.style.height = '100%'
  shadow.append(mount)

  const view = new EditorView({
    root: shadow,
    parent: mount,
    doc: current.saved,
    extensions: [
      basicSetup,
      javascript(),
      javascriptLanguage.data.of({ autocomplete: completeGlobals }),
      lintGutter(),
      theme,
      Prec.highest(keymap.of([{ key: 'Mod-s', preventDefault: true, run: saveKey }])),
      EditorView.updateListener.of((update) => {
        if (update.docChanged) showState()
      }),
    ],
  })

  function saveKey() {
    void save()
    return true
  }

  function dirty() {
    return view.state.doc.toString() !== current.saved
  }

  /** Whether the last save did not load (shown until the next save or reload). */
  let loadFailed = false
  function showState(text) {
    const modified = dirty()
    state.textContent = text ?? (modified ? 'modified' : loadFailed ? 'saved, not loaded' : 'saved')
    state.className = `editor-state badge ${modified ? 'unknown' : loadFailed ? 'error' : 'running'}`
  }

  function showNotice(text) {
    noticeText.textContent = text
    notice.hidden = false
  }

  /** Marks the load errors that point into this file; the others are listed above the editor. */
  function showProblems(problems) {
    const doc = view.state.doc
    const diagnostics = []
    const lines = []
    for (const p of problems) {
      const where = p.file ? `${p.file}:${p.line}:${p.column} ` : ''
      lines.push(`${p.file === p.script ? '' : `${p.script}: `}${where}${p.message}`)
      if (p.file !== current.name || !p.line) continue
      const line = doc.line(Math.min(Math.max(p.line, 1), doc.lines))
      const from = Math.min(line.from + Math.max((p.column ?? 1) - 1, 0), line.to)
      diagnostics.push({ from, to: Math.max(line.to, from), severity: 'error', message: p.message })
    }
    view.dispatch(setDiagnostics(view.state, diagnostics))
    problem.textContent = lines.length
      ? `Not loaded, the previous version keeps running:\n${lines.join('\n')}`
      : ''
    problem.hidden = lines.length === 0
    loadFailed = lines.length > 0
  }

  async function save(base = current.version) {
    if (saving || closed) return
    saving = true
    const content = view.state.doc.toString()
    showState('saving…')
    try {
      const { status, data } = await api('/api/scripts/save', { name: current.name, content, base })
      if (status === 409) {
        noticed = data.version
        showNotice('The file changed on disk since you opened it; your version was not saved.')
        showState()
        return
      }
      if (status !== 200) throw new Error(data.error ?? `HTTP ${status}`)
      current = { ...current, version: data.version, saved: content }
      notice.hidden = true
      showProblems(data.problems)
      showState()
      toast(data.problems.length ? `Saved ${current.name}: load error` : `Saved ${current.name}`)
    } catch (error) {
      showState()
      toast(`Save failed: ${error.message}`)
    } finally {
      saving = false
    }
  }

  async function poll() {
    if (closed) return
    if (!saving && notice.hidden) {
      const { status, data } = await api(`/api/scripts/file?name=${encodeURIComponent(current.name)}`).catch(
        () => ({ status: 0, data: {} }),
      )
      if (closed) return
      if (status === 404 && noticed !== null) {
        noticed = null
        showNotice('The file was deleted or renamed on disk.')
      } else if (status === 200 && data.version !== current.version && data.version !== noticed) {
        noticed = data.version
        showNotice('The file changed on disk.')
      }
    }
    timer = setTimeout(poll, POLL_MS)
  }
  let timer = setTimeout(poll, POLL_MS)

  async function reloadFromDisk() {
    const { status, data } = await api(`/api/scripts/file?name=${encodeURIComponent(current.name)}`)
    if (status !== 200) throw new Error(data.error ?? `HTTP ${status}`)
    current = { ...current, version: data.version, saved: data.content }
    view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: data.content } })
    notice.hidden = true
    showProblems([])
    showState()
  }

  async function overwrite() {
    const { status, data } = await api(`/api/scripts/file?name=${encodeURIComponent(current.name)}`)
    if (status === 404) {
      // Gone on disk: writing it again makes a new file.
      const created = await api('/api/scripts/create', {
        name: current.name,
        content: view.state.doc.toString(),
      })
      if (created.status !== 200) throw new Error(created.data.error)
      current = { ...current, version: created.data.version, saved: view.state.doc.toString() }
      notice.hidden = true
      showProblems(created.data.problems)
      showState()
      return
    }
    notice.hidden = true
    await save(data.version)
  }

  async function rename() {
    const to = renameInput.value.trim()
    if (to === current.name) return
    const { status, data } = await api('/api/scripts/rename', { from: current.name, to })
    if (status !== 200) throw new Error(data.error ?? `HTTP ${status}`)
    current = { ...current, name: to }
    title.textContent = to
    toast(`Renamed to ${to}`)
  }

  async function remove() {
    if (!confirm(`Delete ${current.name}? Its script stops.`)) return
    const { status, data } = await api('/api/scripts/delete', { name: current.name, base: current.version })
    if (status === 409) {
      showNotice('The file changed on disk; it was not deleted.')
      return
    }
    if (status !== 200) throw new Error(data.error ?? `HTTP ${status}`)
    toast(`Deleted ${current.name}`)
    close()
  }

  function close() {
    if (closed) return
    closed = true
    clearTimeout(timer)
    view.destroy()
    pane.replaceChildren()
    pane.hidden = true
    onClosed()
  }

  const actions = {
    save: () => save(),
    reload: reloadFromDisk,
    overwrite,
    rename,
    delete: remove,
    close: () => {
      if (!dirty() || confirm(`Close ${current.name} without saving?`)) close()
    },
  }
  root.addEventListener('click', async (event) => {
    const action = event.target.closest('button[data-editor]')?.dataset.editor
    if (!action || closed) return
    try {
      await actions[action]()
    } catch (error) {
      toast(`Failed: ${error.message}`)
    }
  })

  showState()
  view.focus()
  return {
    close,
    get name() {
      return current.name
    },
    get view() {
      return view
    },
  }
}
