import type { WebSocket } from 'ws'
import type { Broker } from '../broker/broker.ts'
import type { Recorder } from './recorder.ts'
import type { TopicModel } from './topic-model.ts'
import { parseViewRequest, type ViewRequest, type Views } from './views.ts'

interface Watcher {
  request: ViewRequest
  /** Set when the page changed what it looks at: answer on the next tick whatever changed. */
  asked: boolean
  sentAt: number
  /** When a request was last answered outside the tick. */
  answeredAt: number
  /** Topic generation / client generation the last frame was built from. */
  topicGeneration: number
  clientGeneration: number
  lastText: string
  /** Whether this page counts towards the recorder's Topics viewers. */
  onTopics: boolean
}

/** Views whose numbers move without an event (counters, uptime, script state): refreshed each second. */
const POLLED = new Set(['broker', 'clients', 'scripts', 'cluster'])
const POLL_MS = 1000
/** A page that cannot keep up skips frames rather than queueing them in the broker's memory. */
const MAX_BUFFERED = 1 << 20
/**
 * A page that asks for another view or page is answered at once rather than on the next tick
 * (a click then paints in the page's drawing time, not up to a tick later), but a page asking
 * more often than this waits for the tick, so requests cannot make the broker build views
 * back to back.
 */
const MIN_ANSWER_GAP_MS = 50

/**
 * Live updates: every `intervalMs` each open page gets its current view, built and serialized
 * only if something it shows may have changed, and sent only if the text differs. Pages on the
 * same view and page share one serialization per tick.
 */
export class Feed {
  private readonly watchers = new Map<WebSocket, Watcher>()
  private clientGeneration = 0
  private readonly timer: NodeJS.Timeout
  private readonly bump = (): void => {
    this.clientGeneration++
  }

  constructor(
    private readonly broker: Broker,
    private readonly model: TopicModel,
    private readonly recorder: Recorder,
    private readonly views: Views,
    intervalMs: number,
  ) {
    this.timer = setInterval(() => this.tick(), intervalMs)
    this.timer.unref()
  }

  add(socket: WebSocket): void {
    const watcher: Watcher = {
      request: parseViewRequest({}),
      asked: true,
      sentAt: 0,
      answeredAt: 0,
      topicGeneration: -1,
      clientGeneration: -1,
      lastText: '',
      onTopics: false,
    }
    this.watchers.set(socket, watcher)
    // Only while a page is open: with no listener the broker skips building the event's ClientInfo.
    if (this.watchers.size === 1) this.listenClients(true)
    socket.on('message', (data) => {
      let parsed: unknown
      try {
        parsed = JSON.parse(String(data))
      } catch {
        return
      }
      if (typeof parsed !== 'object' || parsed === null) return
      watcher.request = parseViewRequest(parsed as Record<string, unknown>)
      watcher.asked = true
      // Before the answer is built, so a Topics view starts from the retained messages.
      this.watchTopics(watcher, watcher.request.view === 'topics')
      const now = Date.now()
      if (now - watcher.answeredAt < MIN_ANSWER_GAP_MS) return
      watcher.answeredAt = now
      this.model.ingest()
      this.send(socket, watcher, now, new Map())
    })
    socket.on('close', () => {
      if (!this.watchers.delete(socket)) return
      if (this.watchers.size === 0) this.listenClients(false)
      this.watchTopics(watcher, false)
    })
    socket.on('error', () => socket.terminate())
  }

  /** Only a page showing the Topics view needs every message recorded. */
  private watchTopics(watcher: Watcher, on: boolean): void {
    if (watcher.onTopics === on) return
    watcher.onTopics = on
    if (on) this.recorder.topicsViewOpened()
    else this.recorder.topicsViewClosed()
  }

  private listenClients(on: boolean): void {
    for (const event of ['clientConnect', 'clientDisconnect'] as const) {
      if (on) this.broker.on(event, this.bump)
      else this.broker.off(event, this.bump)
    }
  }

  get size(): number {
    return this.watchers.size
  }

  /** One batch: bring the indexes up to date, then answer every page that needs a frame. */
  tick(): void {
    this.recorder.tick()
    this.model.ingest()
    if (this.watchers.size === 0) return
    const now = Date.now()
    // A broker too busy for every message to be recorded (see Recorder) changes the tree on
    // every tick: the Topics view is then rebuilt once a second, not four times.
    const busy = this.recorder.sampling !== undefined
    const built = new Map<string, string>()
    for (const [socket, w] of this.watchers) {
      const view = w.request.view
      const due =
        w.asked ||
        (POLLED.has(view) && now - w.sentAt >= POLL_MS) ||
        (view === 'clients' && w.clientGeneration !== this.clientGeneration) ||
        ((view === 'topics' || view === 'ha') &&
          w.topicGeneration !== this.model.generation &&
          (!busy || now - w.sentAt >= POLL_MS))
      if (due) this.send(socket, w, now, built)
    }
  }

  /** Builds (or takes from `built`, shared by pages on the same view) and sends one frame. */
  private send(socket: WebSocket, w: Watcher, now: number, built: Map<string, string>): void {
    if (socket.readyState !== socket.OPEN || socket.bufferedAmount > MAX_BUFFERED) return
    const key = JSON.stringify(w.request)
    let text = built.get(key)
    if (text === undefined) {
      text = JSON.stringify({ request: w.request, data: this.views.build(w.request) })
      built.set(key, text)
    }
    w.asked = false
    w.sentAt = now
    w.topicGeneration = this.model.generation
    w.clientGeneration = this.clientGeneration
    if (text === w.lastText) return
    w.lastText = text
    socket.send(text)
  }

  close(): void {
    clearInterval(this.timer)
    this.listenClients(false)
    const sockets = [...this.watchers.keys()]
    this.watchers.clear()
    for (const socket of sockets) socket.terminate()
  }
}
