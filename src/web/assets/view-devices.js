// The device cards above the topic tree (Tasmota / OpenBeken): online state and each relay with
// its Toggle button.
import { esc } from './dom.js'

export function renderDevices(devices) {
  return devices.length
    ? devices
        .map(
          (dev) => `<div class="card device" data-device="${esc(dev.id)}">
          <strong>${esc(dev.id)}</strong> <span class="badge ${esc(dev.online)}">${esc(dev.online)}</span>
          <div class="relays">${
            dev.relays
              .map(
                (r) => `<div class="relay"><span class="mono">${esc(r.name)}</span>
              <span class="badge ${r.state.toUpperCase() === 'ON' ? 'on' : 'off'}">${esc(r.state)}</span>
              <button class="small" data-toggle="${esc(dev.id)}" data-relay="${esc(r.name)}">Toggle</button></div>`,
              )
              .join('') || '<span class="sub">no relays reported</span>'
          }</div></div>`,
        )
        .join('')
    : '<p class="empty">No devices yet (they appear from tele/&lt;device&gt;/LWT, stat/&lt;device&gt;/POWER…, tele/&lt;device&gt;/STATE).</p>'
}
