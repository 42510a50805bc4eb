// How numbers, sizes, durations and times read on the dashboard, and the two HTML fragments the
// views share: a summary card and a pager.
import { esc } from './dom.js'

export function bytes(n) {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let i = -1
  do {
    n /= 1024
    i++
  } while (n >= 1024 && i < units.length - 1)
  return `${n.toFixed(1)} ${units[i]}`
}
export const num = (n) => Number(n).toLocaleString('en')
export function duration(seconds) {
  seconds = Math.floor(seconds)
  const d = Math.floor(seconds / 86400)
  const h = Math.floor((seconds % 86400) / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  return d > 0 ? `${d}d ${h}h ${m}m` : h > 0 ? `${h}h ${m}m ${s}s` : m > 0 ? `${m}m ${s}s` : `${s}s`
}
export const since = (date) => (date ? duration((Date.now() - new Date(date).getTime()) / 1000) : '–')
export const time = (date) => (date ? new Date(date).toLocaleTimeString() : '–')

export function pager(view, total, offset, pageSize) {
  if (total <= pageSize) return ''
  const last = Math.min(offset + pageSize, total)
  return `<div class="pager"><button class="small" data-page="${view}" data-offset="${Math.max(offset - pageSize, 0)}" ${offset === 0 ? 'disabled' : ''}>‹ prev</button>
    ${num(offset + 1)}–${num(last)} of ${num(total)}
    <button class="small" data-page="${view}" data-offset="${offset + pageSize}" ${last >= total ? 'disabled' : ''}>next ›</button></div>`
}

export const card = (label, big, sub = '') =>
  `<div class="card"><div class="label">${esc(label)}</div><div class="big">${big}</div><div class="sub">${sub}</div></div>`
