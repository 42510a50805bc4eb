// What the user does on the page outside the script editor and console: switching tabs,
// expanding topics, paging, the Reload, Edit, Disconnect and Toggle buttons, the filters and the
// Publish form. Each updates the live request or posts an action.
import { $, post, toast } from './dom.js'
import { ask, state } from './live.js'
import { openScript } from './script-editor.js'

function show(view) {
  state.view = view
  for (const b of document.querySelectorAll('#tabs button'))
    b.classList.toggle('active', b.dataset.view === view)
  for (const s of document.querySelectorAll('.view')) s.hidden = s.id !== `view-${view}`
  ask()
}

export function setupActions() {
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
}
