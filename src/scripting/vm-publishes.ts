import type { QuickJSHandle } from 'quickjs-emscripten'
import { topicNameError as topicNameProblem } from '../broker/topic-rules.ts'
import { readPublishChunk } from './guest-batches.ts'
import type { ScriptLimits } from './options.ts'
import type { FromWorker } from './protocol.ts'
import { RateLimiter } from './rate-limiter.ts'
import type { VmCalls } from './vm-calls.ts'
import type { VmReports } from './vm-reports.ts'

/**
 * A VM's way out for ms_publish: the prelude queues publishes during a call, and after it (or
 * when a long loop fills a chunk) they arrive here packed (GUEST_PUBLISH in wire-formats.ts)
 * and go to the host, as many as the rate limit lets through.
 */
export class VmPublishes {
  private readonly limiter: RateLimiter

  constructor(
    private readonly vm: VmCalls,
    private readonly vmId: number,
    limits: ScriptLimits,
    /** The prelude's drain(). */
    private readonly drainFn: QuickJSHandle,
    private readonly send: (msg: FromWorker) => void,
    private readonly reports: VmReports,
  ) {
    this.limiter = new RateLimiter(limits.publishRatePerSecond, limits.publishBurst)
  }

  /** Takes the publishes the guest queued and forwards those within the rate limit. */
  drain(): void {
    if (this.vm.dead) return
    const ctx = this.vm.ctx
    const result = ctx.callFunction(this.drainFn, ctx.undefined)
    if (result.error) {
      this.reports.logError('queued publishes lost', this.vm.takeError(result.error))
      return
    }
    try {
      this.forward(result.value)
    } finally {
      result.value.dispose()
    }
  }

  /** Forwards one packed chunk of guest publishes (borrowed handle) within the rate limit. */
  forward(chunk: QuickJSHandle): void {
    const { publishes, dropped } = readPublishChunk(this.vm.ctx, chunk)
    let refused = dropped
    for (const p of publishes) {
      if (topicNameProblem(p.topic) !== undefined) continue // the prelude already threw for these
      if (this.limiter.take()) this.send({ t: 'pub', vmId: this.vmId, ...p })
      else refused++
    }
    if (refused > 0) this.reports.reportThrottled(refused)
  }

  dispose(): void {
    this.drainFn.dispose()
  }
}
