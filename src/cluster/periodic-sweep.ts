/**
 * A background job of a node, run every `everyMs` while its NATS connection is up: one run at
 * a time, each waited for at most `guardMs` (a KV request caught by an outage can hang, and
 * must not stop every later run; a late finish is harmless to the jobs that use this, which
 * work by compare-and-set), a failure logged and tried again at the next tick.
 */
import type { Logger } from 'pino'
import { settleWithin } from '../util/settle-within.ts'
import type { NatsConnection } from './nats-connection.ts'

export interface SweepOptions {
  everyMs: number
  guardMs: number
  /** The warning logged when a run fails. */
  failure: string
  logger: Logger
  /** When given, a tick runs only while it returns true. */
  ready?: () => boolean
}

export class PeriodicSweep {
  private timer: NodeJS.Timeout | undefined
  private running = false

  constructor(
    private readonly conn: NatsConnection,
    private readonly options: SweepOptions,
    private readonly run: () => Promise<void>,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.options.everyMs)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  private async tick(): Promise<void> {
    if (this.running || !this.timer || this.conn.state !== 'connected') return
    if (this.options.ready && !this.options.ready()) return
    this.running = true
    try {
      await settleWithin(this.run(), this.options.guardMs)
    } catch (error) {
      this.options.logger.warn({ err: error }, this.options.failure)
    } finally {
      this.running = false
    }
  }
}
