// The Broker view: counters, rates and memory as cards, and the listeners.
import { esc } from './dom.js'
import { bytes, card, duration, num } from './format.js'

export function renderBroker(d) {
  const s = d.stats
  const r = d.rates
  return `<div class="cards">
      ${card('Uptime', esc(duration(s.uptimeSeconds)), `since ${esc(new Date(s.startedAt).toLocaleString())}`)}
      ${card('Connected clients', num(s.clients), `${num(s.connections)} connections · ${num(s.sessions)} sessions`)}
      ${card('Messages in', num(s.messagesIn), `${num(r.messagesIn)}/s`)}
      ${card('Messages out', num(s.messagesOut), `${num(r.messagesOut)}/s`)}
      ${card('Bytes in', esc(bytes(s.bytesIn)), `${esc(bytes(r.bytesIn))}/s`)}
      ${card('Bytes out', esc(bytes(s.bytesOut)), `${esc(bytes(r.bytesOut))}/s`)}
      ${card('Retained messages', num(s.retained), `${num(d.topics)} topics seen`)}
      ${card('Subscriptions', num(s.subscriptions))}
      ${card('Memory (RSS)', esc(bytes(s.memory.rss)), `heap ${esc(bytes(s.memory.heapUsed))}`)}
    </div>
    <h2>Listeners</h2>
    <table><thead><tr><th>Name</th><th>Type</th><th>Address</th><th>Port</th></tr></thead><tbody>
    ${d.listeners.map((l) => `<tr><td>${esc(l.name)}</td><td>${esc(l.type)}</td><td class="mono">${esc(l.host || '–')}</td><td class="num">${esc(l.port)}</td></tr>`).join('')}
    </tbody></table>`
}
