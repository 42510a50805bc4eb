import type { Broker } from '../broker/broker.ts'
import type { BrokerStats, ClientDetails } from '../broker/types.ts'
import { clusterOf } from '../cluster/index.ts'
import { listenersOf } from '../listeners/index.ts'
import type { ScriptingHost, ScriptStatus } from '../scripting/index.ts'
import type { Device, DeviceIndex } from './devices.ts'
import type { DiscoveryIndex, HaView } from './homeassistant.ts'
import type { Recorder } from './recorder.ts'
import type { ScriptLog, ScriptLogLine } from './script-log.ts'
import type { TopicModel, TopicPage } from './topic-model.ts'

export const VIEWS = ['broker', 'clients', 'topics', 'scripts', 'ha', 'cluster'] as const
export type ViewName = (typeof VIEWS)[number]

/** What the page asks for: one view, and for the long lists a page of it. */
export interface ViewRequest {
  view: ViewName
  offset: number
  filter: string
  /** Topic tree nodes the user opened. */
  expanded: string[]
}

export const PAGE_SIZE = 100

/** Validates a request from the WebSocket or the query string; anything odd falls back to a default. */
export function parseViewRequest(input: Record<string, unknown>): ViewRequest {
  const view = VIEWS.includes(input.view as ViewName) ? (input.view as ViewName) : 'broker'
  const offset = Number(input.offset)
  const expanded = Array.isArray(input.expanded)
    ? input.expanded.filter((e): e is string => typeof e === 'string').slice(0, 1000)
    : typeof input.expanded === 'string' && input.expanded !== ''
      ? input.expanded.split(',')
      : []
  return {
    view,
    offset: Number.isInteger(offset) && offset > 0 ? offset : 0,
    filter: typeof input.filter === 'string' ? input.filter.slice(0, 200) : '',
    expanded,
  }
}

export interface ListenerRow {
  name: string
  type: string
  host: string
  port: number
}

export interface BrokerView {
  listeners: ListenerRow[]
  stats: BrokerStats
  /** Per second, over the last second or more. */
  rates: { messagesIn: number; messagesOut: number; bytesIn: number; bytesOut: number }
  topics: number
}

export interface ClientsView {
  total: number
  matching: number
  offset: number
  pageSize: number
  clients: ClientDetails[]
}

export interface ScriptsView {
  enabled: boolean
  scripts: ScriptStatus[]
  /** The last lines the scripting host logged (prints, load errors, reloads), oldest first. */
  log: ScriptLogLine[]
  /** Whether scripts may be edited from this dashboard, and if not why (see script-access.ts). */
  editing: { allowed: boolean; reason?: string | undefined }
  /** The script named by the request's `filter`, with its own last lines (its panel and console). */
  selected: { name: string; log: ScriptLogLine[] } | null
}

/** The cluster this node belongs to (null when it runs alone): its nodes and who runs the scripts. */
export interface ClusterView {
  cluster: {
    nodeId: string
    nats: string
    /** `since`: when the node joined (ms since the epoch), null before its first heartbeat is read. */
    nodes: { id: string; self: boolean; scripts: boolean; since: number | null }[]
    scriptsNode: string | null
    /** Filters this node has NATS subscriptions for, and messages it received from other nodes. */
    filters: number
    received: number
  } | null
}

export interface TopicsView {
  /**
   * When every topic began to be recorded (ms since the epoch), or null: with no page on the
   * Topics view the dashboard keeps only device and Home Assistant topics, and a page starts from
   * the retained messages, so a topic that is not retained appears once published after this time.
   */
  liveSince: number | null
  /**
   * While the broker is too busy to record every message (above the dashboard's record
   * budget): about one message in `oneIn` is recorded, at `rate` messages a second, so a value
   * may lag, a topic published rarely may be missing, and counts are estimates. Device and
   * Home Assistant topics are recorded in full.
   */
  sampling: { oneIn: number; rate: number } | null
  tree: TopicPage
  pageSize: number
  devices: Device[]
}

interface Sample {
  at: number
  messagesIn: number
  messagesOut: number
  bytesIn: number
  bytesOut: number
}

export interface ViewSources {
  broker: Broker
  model: TopicModel
  devices: DeviceIndex
  discovery: DiscoveryIndex
  recorder: Recorder
  scripting: ScriptingHost | undefined
  scriptLog: ScriptLog | undefined
  httpHost: string
  httpPort: () => number
  /** Why scripts are read-only here; undefined when they may be edited. */
  editRefusal?: string | undefined
}

/** Builds the data of each view from the broker's API and the dashboard's own indexes. */
export class Views {
  private last: Sample | undefined
  private rates: BrokerView['rates'] = { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 }

  constructor(private readonly sources: ViewSources) {}

  build(request: ViewRequest): BrokerView | ClientsView | TopicsView | ScriptsView | HaView | ClusterView {
    switch (request.view) {
      case 'broker':
        return this.brokerView()
      case 'clients':
        return this.clientsView(request)
      case 'topics':
        return {
          liveSince: this.sources.recorder.since ?? null,
          sampling: this.sources.recorder.sampling ?? null,
          tree: this.sources.model.page({
            offset: request.offset,
            limit: PAGE_SIZE,
            expanded: new Set(request.expanded),
            filter: request.filter,
            isRetained: (topic) => this.sources.broker.retainedMessages(topic).length > 0,
          }),
          pageSize: PAGE_SIZE,
          devices: this.sources.devices.list(),
        }
      case 'scripts':
        return {
          enabled: this.sources.scripting !== undefined,
          scripts: this.sources.scripting?.scripts() ?? [],
          log: this.sources.scriptLog?.tail(100) ?? [],
          editing: { allowed: this.sources.editRefusal === undefined, reason: this.sources.editRefusal },
          selected:
            request.filter === ''
              ? null
              : { name: request.filter, log: this.sources.scriptLog?.tail(100, request.filter) ?? [] },
        }
      case 'ha':
        return this.sources.discovery.view()
      case 'cluster':
        return this.clusterView()
    }
  }

  private clusterView(): ClusterView {
    const status = clusterOf(this.sources.broker)?.status()
    if (!status) return { cluster: null }
    // This node is listed even before the presence bucket shows its first heartbeat.
    const ids = status.nodes.includes(status.nodeId) ? status.nodes : [...status.nodes, status.nodeId].sort()
    return {
      cluster: {
        nodeId: status.nodeId,
        nats: status.nats,
        nodes: ids.map((id) => ({
          id,
          self: id === status.nodeId,
          scripts: id === status.scriptsNode,
          since: status.nodesSince[id] ?? null,
        })),
        scriptsNode: status.scriptsNode,
        filters: status.filters.length,
        received: status.received,
      },
    }
  }

  private brokerView(): BrokerView {
    const { broker } = this.sources
    const stats = broker.stats()
    this.sampleRates(stats)
    const host = broker.options.host
    // Extra listeners keep their own bind address, which the Listener interface does not expose.
    const listeners: ListenerRow[] = [
      { name: 'mqtt', type: 'tcp', host, port: broker.port },
      ...listenersOf(broker).map((l) => ({ name: l.name, type: l.type, host: '', port: l.port })),
      { name: 'dashboard', type: 'http', host: this.sources.httpHost, port: this.sources.httpPort() },
    ]
    return { listeners, stats, rates: this.rates, topics: this.sources.model.size }
  }

  /** Rates are deltas of the broker's totals over at least a second, so a fast refresh does not jitter. */
  private sampleRates(stats: BrokerStats): void {
    const now = Date.now()
    const last = this.last
    if (last !== undefined && now - last.at < 1000) return
    if (last !== undefined) {
      const seconds = (now - last.at) / 1000
      const rate = (a: number, b: number): number => Math.round(((a - b) / seconds) * 10) / 10
      this.rates = {
        messagesIn: rate(stats.messagesIn, last.messagesIn),
        messagesOut: rate(stats.messagesOut, last.messagesOut),
        bytesIn: rate(stats.bytesIn, last.bytesIn),
        bytesOut: rate(stats.bytesOut, last.bytesOut),
      }
    }
    this.last = { at: now, ...pick(stats) }
  }

  private clientsView(request: ViewRequest): ClientsView {
    const all = this.sources.broker.clientDetails()
    const needle = request.filter.toLowerCase()
    const matching =
      needle === ''
        ? all
        : all.filter((c) => c.clientId.toLowerCase().includes(needle) || c.address.includes(needle))
    matching.sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0))
    return {
      total: all.length,
      matching: matching.length,
      offset: request.offset,
      pageSize: PAGE_SIZE,
      clients: matching.slice(request.offset, request.offset + PAGE_SIZE),
    }
  }
}

function pick(stats: BrokerStats): Omit<Sample, 'at'> {
  const { messagesIn, messagesOut, bytesIn, bytesOut } = stats
  return { messagesIn, messagesOut, bytesIn, bytesOut }
}
