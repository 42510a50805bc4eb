// The Topics view: the topic tree with last values and counts, a page at a time, the sampling
// notice when the broker is busy, and the device cards above it (patched in place).
import { $, esc } from './dom.js'
import { num, pager, time } from './format.js'
import { patch } from './patch.js'
import { renderDevices } from './view-devices.js'

export function renderTopics(d) {
  patch($('#view-topics .devices'), renderDevices(d.devices))
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
}
