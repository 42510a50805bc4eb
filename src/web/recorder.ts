import type { Broker } from '../broker/broker.ts'
import type { Message } from '../broker/types.ts'
import type { DiscoveryIndex } from './homeassistant.ts'
import type { TopicModel } from './topic-model.ts'

/**
 * What the Devices and Home Assistant views read, kept current whether or not a page is open:
 * the Tasmota topics devices.ts reads (`stat/+/+` also brings STATUS and the like, which it
 * ignores: a filter level cannot say POWER<n>) and the discovery configs.
 */
const ALWAYS = ['tele/+/LWT', 'tele/+/STATE', 'stat/+/+', 'homeassistant/#'] as const
/** The same filters as a test on a topic name, so an entity topic they cover is not subscribed twice. */
const ALWAYS_TOPIC = /^(?:tele\/[^/]*\/(?:LWT|STATE)|stat\/[^/]*\/[^/]*|homeassistant(?:\/.*)?)$/s

/**
 * Decides what the dashboard records. Listening to every message (the broker's `message` event,
 * one Map lookup per message) is what the Topics tree needs, and it costs a busy broker a
 * quarter to a half more CPU per message (scripts/bench-web.ts); so it is done only while a
 * page shows the Topics view, or shortly after (a reload, an HTTP read of the topics view); a
 * Broker or Clients tab left open all day costs nothing. Otherwise the
 * dashboard holds in-process subscriptions to the few topics the Devices and Home Assistant
 * views read: the broker's subscription tree turns other topics away at their first levels,
 * so they cost nothing.
 */
export class Recorder {
  /** True while every message is recorded. */
  private all = false
  private allSince: number | undefined
  private topicsViewers = 0
  /** Until when recording goes on with no page on the Topics view (ms since the epoch). */
  private until = 0
  private readonly unsubscribes: (() => void)[] = []
  /** State and availability topics of discovered entities, each subscribed once. */
  private readonly entityTopics = new Map<string, { refs: number; unsubscribe: () => void }>()
  /** The entity topics each discovery config holds. */
  private readonly configTopics = new Map<string, string[]>()
  private readonly recordFiltered = (msg: Message): void => {
    // While the `message` listener runs it has recorded this message already.
    if (!this.all) this.model.record(msg)
  }

  constructor(
    private readonly broker: Broker,
    private readonly model: TopicModel,
    private readonly discovery: DiscoveryIndex,
    /** How long recording goes on after the last page left the Topics view, or the last HTTP read. */
    private readonly lingerMs: number,
  ) {
    for (const filter of ALWAYS) {
      // Each subscription delivers the retained messages it matches before it returns.
      const handler =
        filter === 'homeassistant/#'
          ? (msg: Message): void => {
              this.recordFiltered(msg)
              this.configChanged(msg.topic, msg.payload)
            }
          : this.recordFiltered
      this.unsubscribes.push(broker.subscribe(filter, handler))
    }
  }

  /** When every message began to be recorded, or undefined while only the device and HA topics are. */
  get since(): number | undefined {
    return this.allSince
  }

  get recording(): boolean {
    return this.all
  }

  /** A page now shows the Topics view. */
  topicsViewOpened(): void {
    this.topicsViewers++
    this.start()
  }

  /** A page left the Topics view or closed. */
  topicsViewClosed(): void {
    this.topicsViewers--
    if (this.topicsViewers > 0) return
    this.extend()
    this.tick()
  }

  /** An HTTP read of a view that shows every topic: record for a while, as for a page. */
  read(): void {
    this.extend()
    this.start()
  }

  /** On the dashboard's tick: stop once no page shows the Topics view and the linger is over. */
  tick(now = Date.now()): void {
    if (this.all && this.topicsViewers === 0 && now >= this.until) this.stop()
  }

  close(): void {
    this.broker.off('message', this.model.record)
    this.all = false
    for (const unsubscribe of this.unsubscribes) unsubscribe()
    for (const topic of this.entityTopics.values()) topic.unsubscribe()
    this.entityTopics.clear()
  }

  private extend(): void {
    this.until = Math.max(this.until, Date.now() + this.lingerMs)
  }

  private start(): void {
    if (this.all) return
    this.all = true
    this.allSince = Date.now()
    // Topics already held are kept current by the subscriptions; the rest start from the
    // retained messages, so the tree has values at once. Live-only topics appear when next published.
    for (const msg of this.broker.retainedMessages('#')) {
      if (!this.model.entries.has(msg.topic)) this.model.record(msg)
    }
    // The `message` event rather than a `#` subscription: one emit per message, where a
    // wildcard subscriber would add a subscription-tree walk to every publish.
    this.broker.on('message', this.model.record)
  }

  private stop(): void {
    if (!this.all) return
    this.all = false
    this.allSince = undefined
    this.broker.off('message', this.model.record)
    // What is no longer kept current goes, retained or not: a retained value may be replaced
    // or cleared while nothing listens, and the next page starts again from the broker's.
    this.model.prune((topic) => ALWAYS_TOPIC.test(topic) || this.entityTopics.has(topic))
  }

  private configChanged(configTopic: string, payload: Buffer): void {
    const wanted = new Set(
      this.discovery
        .update(configTopic, payload)
        .filter((t) => !ALWAYS_TOPIC.test(t) && !t.includes('+') && !t.includes('#')),
    )
    const held = this.configTopics.get(configTopic) ?? []
    for (const topic of wanted) if (!held.includes(topic)) this.hold(topic)
    for (const topic of held) if (!wanted.has(topic)) this.release(topic)
    if (wanted.size === 0) this.configTopics.delete(configTopic)
    else this.configTopics.set(configTopic, [...wanted])
  }

  private hold(topic: string): void {
    const known = this.entityTopics.get(topic)
    if (known !== undefined) {
      known.refs++
      return
    }
    const entry = { refs: 1, unsubscribe: (): void => {} }
    // Set first: subscribing delivers the topic's retained message, which is then kept.
    this.entityTopics.set(topic, entry)
    try {
      entry.unsubscribe = this.broker.subscribe(topic, this.recordFiltered)
    } catch {
      // Not a valid topic: Home Assistant could not read it either, and neither can the view.
      this.entityTopics.delete(topic)
    }
  }

  private release(topic: string): void {
    const known = this.entityTopics.get(topic)
    if (known === undefined || --known.refs > 0) return
    known.unsubscribe()
    this.entityTopics.delete(topic)
    // Recorded for every message, it stays current until recording stops and prunes it.
    if (!this.all) this.model.delete(topic)
  }
}
