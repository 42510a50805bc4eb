// The Home Assistant view: discovered devices with their entities, states and availability, and
// the discovery payloads that could not be read.
import { esc } from './dom.js'

export function renderHa(d) {
  const malformed = d.malformed.length
    ? `<h2>Malformed discovery payloads</h2><table><thead><tr><th>Config topic</th><th>Problem</th><th>Payload</th></tr></thead><tbody>
        ${d.malformed.map((m) => `<tr data-malformed="${esc(m.configTopic)}"><td class="mono">${esc(m.configTopic)}</td><td><span class="badge malformed">malformed</span> ${esc(m.error)}</td><td class="mono value">${esc(m.payload)}</td></tr>`).join('')}
        </tbody></table>`
    : ''
  if (d.devices.length === 0 && !malformed)
    return '<p class="empty">No Home Assistant discovery configs seen (homeassistant/&lt;component&gt;/[&lt;node_id&gt;/]&lt;object_id&gt;/config).</p>'
  const devices = d.devices
    .map(
      (
        dev,
      ) => `<h2>${esc(dev.name)} <small>${esc([dev.manufacturer, dev.model].filter(Boolean).join(' · '))}</small></h2>
      <table><thead><tr><th>Entity</th><th>Component</th><th>State</th><th>Availability</th><th>State topic</th></tr></thead><tbody>
      ${dev.entities
        .map(
          (
            e,
          ) => `<tr data-entity="${esc(e.configTopic)}"><td>${esc(e.name)}<div class="sub mono">${esc(e.uniqueId ?? e.objectId)}</div></td>
          <td>${esc(e.component)}</td><td class="mono value">${e.state === undefined ? '–' : esc(e.state)}${e.unit && e.state !== undefined ? ` ${esc(e.unit)}` : ''}</td>
          <td><span class="badge ${esc(e.availability)}">${esc(e.availability)}</span></td><td class="mono">${esc(e.stateTopic ?? '–')}</td></tr>`,
        )
        .join('')}</tbody></table>`,
    )
    .join('')
  return devices + malformed
}
