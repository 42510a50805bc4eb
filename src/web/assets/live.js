// The live feed: what the page asks for (the shown view, its page, filter and expanded topics)
// and the WebSocket at /ws that sends it and receives the server's frames, reconnecting when it
// drops. The server pushes the current view at most every 250 ms.
import { $ } from './dom.js'

export const state = { view: 'broker', offset: {}, filter: {}, expanded: new Set() }
let socket

function request() {
  const view = state.view
  return {
    view,
    offset: state.offset[view] ?? 0,
    filter: state.filter[view] ?? '',
    expanded: [...state.expanded],
  }
}

/** Sends the current request; the server answers with a frame now and keeps pushing them. */
export function ask() {
  if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(request()))
}

/** Opens the feed; `render(view, data)` gets each frame of the view that is shown. */
export function connect(render) {
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
    setTimeout(() => connect(render), 2000)
  }
}
