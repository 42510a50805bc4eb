// The Clients view: the connected clients, a page at a time, each with a Disconnect button.
import { esc } from './dom.js'
import { bytes, num, pager, since } from './format.js'

const protocol = { 3: '3.1', 4: '3.1.1', 5: '5.0' }

export function renderClients(d) {
  if (d.total === 0) return '<p class="empty">No clients connected.</p>'
  const rows = d.clients
    .map(
      (c) => `<tr data-client-row="${esc(c.clientId)}">
        <td class="mono">${esc(c.clientId)}${c.username ? `<div class="sub">user ${esc(c.username)}</div>` : ''}</td>
        <td class="mono">${esc(c.address)}:${esc(c.port)}<div class="sub">${esc(c.listener)}</div></td>
        <td>${esc(protocol[c.protocolVersion] ?? c.protocolVersion)}${c.bridge ? '<div class="sub">bridge</div>' : ''}</td>
        <td title="${esc(c.connectedAt)}">${esc(since(c.connectedAt))}</td>
        <td class="num">${esc(c.keepalive)}s</td>
        <td class="num">${esc(bytes(c.bytesIn))}<div class="sub">${num(c.packetsIn)} pkts</div></td>
        <td class="num">${esc(bytes(c.bytesOut))}<div class="sub">${num(c.packetsOut)} pkts</div></td>
        <td class="mono">${c.subscriptions.map((s) => `${esc(s.filter)} <span class="badge">QoS ${s.qos}</span>`).join('<br>') || '–'}</td>
        <td class="num">${num(c.inflight)} / ${num(c.queued)}</td>
        <td><button class="small danger" data-disconnect="${esc(c.clientId)}">Disconnect</button></td></tr>`,
    )
    .join('')
  return `<p>${num(d.total)} connected${d.matching !== d.total ? `, ${num(d.matching)} matching` : ''}</p>
      ${pager('clients', d.matching, d.offset, d.pageSize)}
      <table><thead><tr><th>Client id</th><th>Address</th><th>MQTT</th><th>Connected</th><th>Keepalive</th>
      <th>In</th><th>Out</th><th>Subscriptions</th><th>In flight / queued</th><th></th></tr></thead><tbody>${rows}</tbody></table>
      ${pager('clients', d.matching, d.offset, d.pageSize)}`
}
