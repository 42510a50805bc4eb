// tinymqtt dashboard: plain browser JavaScript in ES modules, no build step (only the script
// editor, editor.js, is bundled). The server pushes the current view over /ws at most every
// 250 ms; these modules only render it and post actions. This one is the entry: it picks each
// view's renderer, wires the page's controls and opens the live feed.
import { setupActions } from './actions.js'
import { $ } from './dom.js'
import { connect } from './live.js'
import { patch } from './patch.js'
import { setupScriptConsole } from './script-console.js'
import { setupScriptEditor } from './script-editor.js'
import { renderBroker } from './view-broker.js'
import { renderClients } from './view-clients.js'
import { renderCluster } from './view-cluster.js'
import { renderHa } from './view-ha.js'
import { renderScripts } from './view-scripts.js'
import { renderTopics } from './view-topics.js'

const renderers = {
  broker: renderBroker,
  clients: renderClients,
  topics: renderTopics,
  scripts: renderScripts,
  ha: renderHa,
  cluster: renderCluster,
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

setupActions()
setupScriptEditor()
setupScriptConsole()
connect(render)
