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
/** Messages recorded in full in one tick interval, however the budget, before sampling begins. */
const BURST = 20_000
/** The same filters as a test on a topic name (an entity topic they cover is not subscribed twice). */
const ALWAYS_TOPIC = /^(?:tele\/[^/]*\/(?:LWT|STATE)|stat\/[^/]*\/[^/]*|homeassistant(?:\/.*)?)$/s

/**
 * Decides what the dashboard records. Recording every message (a call on the broker's
 * `message` event, a Map lookup and a payload copy) is what the Topics tree needs, so it is
 * done only while a page shows the Topics view, or shortly after (a reload, an HTTP read of
 * the topics view): a Broker or Clients tab left open all day costs nothing.
 *
 * And it is done for at most `budget` messages a second. Above that, the tree samples: each
 * tick interval, the `message` listener is attached for one window of consecutive messages
 * (budget × interval of them) at a random moment, and each message recorded counts for the
 * rate over the budget. Outside the window the broker has no listener to call: a broker
 * routing a million messages a second spends about 5% more CPU with a page on the Topics view
 * (`npm run bench -- web`). Values may then lag and counts are estimates; the view says so.
 *
 * Whatever the rate and whether or not a page is open, the dashboard holds in-process
 * subscriptions to the few topics the Devices and Home Assistant views read, which record each
 * of their messages: the broker's subscription tree turns other topics away at their first
 * levels, so they cost nothing.
 */
export class Recorder {
  /** True while every message is recorded (or sampled, above the budget). */
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
  /** The broker's message count and performance.now() at the last measure of the rate. */
  private countedIn = 0
  private countedAt = 0
  /** While recording: the message rate last measured (per second). */
  private rate = 0
  /** How many messages each recorded one stands for: 1 while every message is recorded. */
  private weight = 1
  /** Messages the listener still records before it detaches (the window, or a burst's cap). */
  private left = 0
  private attached = false
  private windowTimer: NodeJS.Timeout | undefined
  /** The last message the listener recorded, so a subscription handler does not count it twice. */
  private tapped: Message | undefined
  private readonly recordFiltered = (msg: Message): void => {
    const tapped = this.tapped
    // Retained messages reach handlers as a copy with retain cleared: same topic and payload.
    if (tapped !== undefined && tapped.payload === msg.payload && tapped.topic === msg.topic) return
    this.model.record(msg)
  }
  /** The `message` listener while every topic is recorded; see the class comment. */
  private readonly tap = (msg: Message): void => {
    if (this.left <= 0) return
    if (this.weight === 1) {
      this.model.record(msg)
      this.tapped = msg
    } else if (!ALWAYS_TOPIC.test(msg.topic) && !this.entityTopics.has(msg.topic)) {
      // Device and Home Assistant topics stay exact: their subscriptions record each message.
      this.model.record(msg, this.weight)
      this.tapped = msg
    }
    // Detached once the rest of this delivery is over (the broker is iterating its listeners).
    if (--this.left === 0) queueMicrotask(this.detachIfDone)
  }
  private readonly detachIfDone = (): void => {
    if (this.left <= 0) this.detach()
  }
  private readonly openWindow = (): void => {
    this.windowTimer = undefined
    if (this.all) this.attach()
  }

  constructor(
    private readonly broker: Broker,
    private readonly model: TopicModel,
    private readonly discovery: DiscoveryIndex,
    /** How long recording goes on after the last page left the Topics view, or the last HTTP read. */
    private readonly lingerMs: number,
    /** Messages a second recorded at most; above it the Topics tree samples. */
    private readonly budget: number,
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

  /** While the Topics tree samples: about one message in `oneIn` is recorded, at `rate` a second. */
  get sampling(): { oneIn: number; rate: number } | undefined {
    return this.weight === 1 ? undefined : { oneIn: this.weight, rate: Math.round(this.rate) }
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

  /**
   * On the dashboard's tick: stop once no page shows the Topics view and the linger is over;
   * otherwise measure the rate and plan the next interval's recording.
   */
  tick(now = Date.now()): void {
    if (this.all && this.topicsViewers === 0 && now >= this.until) this.stop()
    // A message a subscription handler sees after this tick is not the one the listener took.
    this.tapped = undefined
    if (!this.all) return
    const at = performance.now()
    const elapsed = at - this.countedAt
    // A tick right after another (a page leaving the view) says little about the rate.
    if (elapsed < 100) return
    const total = this.broker.messagesRouted
    this.rate = ((total - this.countedIn) * 1000) / elapsed
    this.countedIn = total
    this.countedAt = at
    this.plan(elapsed)
  }

  /** Records every message, or one window of them, over the next `interval` ms. */
  private plan(interval: number): void {
    const quota = Math.max(1, Math.round((this.budget * interval) / 1000))
    const weight = Math.max(1, Math.ceil(this.rate / this.budget)) | 0
    // The Topics view shows whether it samples: a page is sent a frame when that changes, even
    // when no message was recorded since (the window that would have had one closed first).
    if (weight !== this.weight) this.model.generation++
    this.weight = weight
    this.cancelWindow()
    if (this.weight === 1) {
      // Every message; a burst within the interval (devices coming back after a restart) is
      // recorded in full up to BURST messages before sampling begins.
      this.left = Math.max(BURST, quota)
      this.attach()
      return
    }
    this.left = quota
    this.detach()
    this.windowTimer = setTimeout(this.openWindow, Math.random() * interval * 0.8)
    this.windowTimer.unref()
  }

  private cancelWindow(): void {
    clearTimeout(this.windowTimer)
    this.windowTimer = undefined
  }

  private attach(): void {
    if (this.attached) return
    this.attached = true
    this.broker.on('message', this.tap)
  }

  private detach(): void {
    if (!this.attached) return
    this.attached = false
    this.broker.off('message', this.tap)
  }

  close(): void {
    this.detach()
    this.cancelWindow()
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
    this.countedIn = this.broker.messagesRouted
    this.countedAt = performance.now()
    this.rate = 0
    // The `message` event rather than a `#` subscription: one call per message, where a
    // wildcard subscriber would add a subscription-tree walk to every publish.
    this.plan(1000)
  }

  private stop(): void {
    if (!this.all) return
    this.all = false
    this.allSince = undefined
    this.detach()
    this.cancelWindow()
    this.weight = 1
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
