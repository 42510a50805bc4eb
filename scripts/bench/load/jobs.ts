/**
 * What the orchestrator asks a load worker to do, and what comes back. These cross a
 * process boundary as JSON over the IPC channel, so they are plain data only.
 */

/** Publishers → subscribers at full speed: fan-in, fan-out, QoS 1, and the sink checks. */
export interface StreamJob {
  kind: 'stream'
  port: number
  /**
   * Where the subscribers connect when not `port`: the cluster suite puts the publishers on
   * one node and the subscribers on another. The Node generator only (native.ts refuses it).
   */
  subscriberPort?: number
  publishers: number
  subscribers: number
  qos: 0 | 1 | 2
  /** Subscribers with persistent sessions (clean session 0) rather than clean ones. */
  persistentSubscribers?: boolean
  /** The subscribers subscribe as members of this `$share` group on `filter`. */
  sharedGroup?: string
  /** Publisher i sends to `${topic}${i}` when true, else every publisher sends to `${topic}`. */
  perPublisherTopic: boolean
  topic: string
  filter: string
  payloadBytes: number
  /** QoS 0: packets per socket write. */
  batch: number
  /** Messages sent but not yet delivered (per subscriber), across all publishers; bounds broker queues. */
  window: number
  /** QoS 1: unacknowledged PUBLISHes per publisher. */
  inflight: number
  warmupMs: number
  measureMs: number
  /** Longest wait after sending stops for stragglers, before counting losses. */
  drainMs: number
  /** Hard cap on messages published, whatever the time. */
  maxMessages: number
}

export interface LatencyJob {
  kind: 'latency'
  port: number
  ratePerSec: number
  payloadBytes: number
  warmupMs: number
  measureMs: number
}

export interface ConnectsJob {
  kind: 'connects'
  port: number
  concurrency: number
  warmupMs: number
  measureMs: number
  /** Hard cap on connections opened, whatever the time. */
  maxConnects: number
}

/**
 * Reconnect storm (C generator only): `clients` clients, `concurrency` handshakes in flight,
 * each CONNECT, then SUBSCRIBE to `storm/<its id>`; all stay connected until the job ends.
 */
export interface StormJob {
  kind: 'storm'
  port: number
  clients: number
  concurrency: number
  /** false: persistent sessions (clean session 0), which the broker may restore. */
  clean: boolean
  idPrefix: string
  deadlineMs: number
}

/** Opens `clients` idle connections, reports ready, and holds them until told to stop. */
export interface IdleJob {
  kind: 'idle'
  port: number
  clients: number
  idPrefix: string
  concurrency: number
  holdMaxMs: number
}

export interface SoakJob {
  kind: 'soak'
  port: number
  clients: number
  seconds: number
  publishEveryMs: number
  dropEveryMs: number
  reconnectDelayMs: number
  /** When set, a request is published on `requestTopic` every `everyMs` and answers on `replyTopic` are counted. */
  healthy?: { requestTopic: string; replyTopic: string; everyMs: number }
}

export type Job = StreamJob | LatencyJob | ConnectsJob | StormJob | IdleJob | SoakJob

export interface StreamResult {
  kind: 'stream'
  seconds: number
  /** Messages published and deliveries received during the measured window, per second. */
  sendRate: number
  deliverRate: number
  sent: number
  delivered: number
  /** QoS 1: PUBACKs the publishers received (what they were told is on its way). */
  acked: number
  /** Deliveries expected but not received after the drain (QoS 0 may drop; QoS 1 must not). */
  lost: number
  /** Generator CPU during the window as a fraction of one core. */
  cpu: number
  errors: string[]
}

export interface LatencyResult {
  kind: 'latency'
  samples: number
  sent: number
  received: number
  p50: number
  p99: number
  p999: number
  max: number
  /** Longest the generator itself fell behind its send schedule, in ms: its share of a bad tail. */
  generatorStallMs: number
  cpu: number
  errors: string[]
}

export interface ConnectsResult {
  kind: 'connects'
  seconds: number
  perSec: number
  total: number
  failed: number
  cpu: number
  errors: string[]
}

export interface StormResult {
  kind: 'storm'
  /** From the first connect to the last SUBACK. */
  seconds: number
  perSec: number
  done: number
  failed: number
  /** CONNACKs with session present set (persistent sessions restored). */
  sessionPresent: number
  cpu: number
  errors: string[]
}

export interface IdleResult {
  kind: 'idle'
  connected: number
  failed: number
  errors: string[]
}

export interface SoakResult {
  kind: 'soak'
  published: number
  expected: number
  received: number
  lost: number
  /** QoS 1 publishes the broker acknowledged (PUBACK). */
  acknowledged: number
  /** Deliveries expected of acknowledged publishes that never came: must be 0. */
  ackedLost: number
  duplicates: number
  drops: number
  reconnects: number
  /** Requests sent to the healthy script, and the answers that came back. */
  healthyRequests?: number
  healthyReplies?: number
  errors: string[]
}

export type JobResult = StreamResult | LatencyResult | ConnectsResult | StormResult | IdleResult | SoakResult

/** Orchestrator → worker. */
export type ToWorker = { type: 'job'; job: Job } | { type: 'stop' }

/** Worker → orchestrator. `mark` brackets the measured window so the broker's CPU can be sampled. */
export type FromWorker =
  | { type: 'mark'; name: 'measure-start' | 'measure-end' }
  | { type: 'ready'; connected: number }
  | { type: 'result'; result: JobResult }
  | { type: 'error'; message: string }
