// The script editor glue: the Open and New script forms, the list of script files, and loading
// the editor. The editor itself (CodeMirror, bundled into editor.js at build time by
// scripts/build-editor.mjs) is imported on first use; the server decides whether this dashboard
// may change scripts (d.editing).
import { $, esc, post, toast } from './dom.js'

let editor
export async function openScript(name) {
  const { openEditor } = await import('./editor.js')
  editor?.close()
  editor = await openEditor($('#script-editor'), name, { toast, onClosed: () => (editor = undefined) })
}

let scriptFilesAt = 0
export function showScriptTools(d) {
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

/** Wires the Open and New script forms. */
export function setupScriptEditor() {
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
}
