// Small helpers shared by the dashboard's modules: a query shortcut, HTML escaping, the toast
// and the JSON POST every action uses.

export const $ = (selector, root = document) => root.querySelector(selector)

export const esc = (value) =>
  String(value ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  )

export function toast(text) {
  const t = $('#toast')
  t.textContent = text
  t.hidden = false
  clearTimeout(toast.timer)
  toast.timer = setTimeout(() => (t.hidden = true), 2500)
}

export async function post(path, body) {
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
