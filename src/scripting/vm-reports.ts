import { formatScriptError, type LimitKind, type ScriptError } from './error-location.ts'
import type { ScriptLimits } from './options.ts'
import type { FromWorker, LogLevel } from './protocol.ts'
import { RateLimiter } from './rate-limiter.ts'

/** At most one throttle report, one limit report per kind, one dropped-lines note, per this period (and VM). */
const REPORT_INTERVAL_MS = 1000

/**
 * What a VM tells the host about itself: its log lines (rate-limited), its errors, and the
 * conditions the host shows as the script's status (a limit hit, publishes throttled).
 */
export class VmReports {
  private readonly logLimiter: RateLimiter
  private logDropReportAt = 0
  private throttleReportAt = 0
  private droppedPublishes = 0
  private readonly limitReportAt: Record<LimitKind, number> = { memory: 0, cpu: 0, stack: 0 }

  constructor(
    private readonly name: string,
    private readonly vmId: number,
    private readonly limits: ScriptLimits,
    private readonly send: (msg: FromWorker) => void,
  ) {
    this.logLimiter = new RateLimiter(limits.logRatePerSecond, limits.logRatePerSecond)
  }

  log(level: LogLevel, msg: string, error?: ScriptError): void {
    if (!this.logLimiter.take()) {
      const now = Date.now()
      if (now - this.logDropReportAt >= REPORT_INTERVAL_MS) {
        this.logDropReportAt = now
        this.send({ t: 'log', name: this.name, level: 'warn', msg: 'log rate limit reached; dropping lines' })
      }
      return
    }
    this.send({ t: 'log', name: this.name, level, msg, error })
  }

  logError(context: string, error: ScriptError): void {
    if (error.limit !== undefined) this.reportLimit(error.limit, error)
    this.log('error', `${formatScriptError(error)} (${context})`, error)
  }

  /** Publishes refused by the rate limit: a warning and a status condition, about once a second. */
  reportThrottled(dropped: number): void {
    this.droppedPublishes += dropped
    const now = Date.now()
    if (now - this.throttleReportAt < REPORT_INTERVAL_MS) return
    this.throttleReportAt = now
    const message = `ms_publish above ${this.limits.publishRatePerSecond}/s, dropped ${this.droppedPublishes} publishes`
    this.send({ t: 'log', name: this.name, level: 'warn', msg: `${this.name} is throttled: ${message}` })
    // Rides on the once-a-second log report, so the status costs nothing per publish.
    this.send({
      t: 'condition',
      vmId: this.vmId,
      at: now,
      condition: { kind: 'throttled', dropped: this.droppedPublishes, message },
    })
    this.droppedPublishes = 0
  }

  /**
   * Tells the host a limit aborted a call, for the script's status. Not subject to the log rate
   * limit (the status must not depend on whether the line made it into the log), but sent at most
   * once a second per kind, since a script near its memory cap can fail on every message.
   */
  private reportLimit(kind: LimitKind, error: ScriptError): void {
    const now = Date.now()
    if (now - this.limitReportAt[kind] < REPORT_INTERVAL_MS) return
    this.limitReportAt[kind] = now
    this.send({
      t: 'condition',
      vmId: this.vmId,
      at: now,
      condition: { kind, where: error.where, message: error.message },
    })
  }
}
