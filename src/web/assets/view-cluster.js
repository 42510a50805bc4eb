// The Cluster view: the nodes alive in the cluster, which one runs the scripts, and this node's
// link to NATS. A broker started without --cluster says so.
import { esc } from './dom.js'
import { card, num } from './format.js'

export function renderCluster(d) {
  const c = d.cluster
  if (!c) return '<p class="empty">This broker runs alone (started without <code>--cluster</code>).</p>'
  return `<div class="cards">
      ${card('This node', esc(c.nodeId), `NATS ${esc(c.nats)}`)}
      ${card('Nodes alive', num(c.nodes.length))}
      ${card('Scripts run on', esc(c.scriptsNode ?? 'no node'))}
      ${card('From other nodes', num(c.received), `${num(c.filters)} filters subscribed on NATS`)}
    </div>
    <h2>Nodes</h2>
    <table class="cluster-nodes"><thead><tr><th>Node</th><th>Alive since</th><th>Role</th></tr></thead><tbody>
    ${c.nodes
      .map(
        (n) =>
          `<tr data-node="${esc(n.id)}"><td class="mono">${esc(n.id)}${n.self ? ' <small>(this node)</small>' : ''}</td><td>${n.since ? esc(new Date(n.since).toLocaleString()) : '–'}</td><td>${n.scripts ? 'runs the scripts' : '–'}</td></tr>`,
      )
      .join('')}
    </tbody></table>`
}
