import type { QuickJSHandle } from 'quickjs-emscripten'
import { packDeliveries } from './guest-batches.ts'
import { newGuestText } from './guest-text.ts'
import type { HandleRegistry } from './handle-registry.ts'
import type { Delivery } from './thread-batches.ts'
import type { VmCalls } from './vm-calls.ts'
import type { CpuDeadline } from './vm-limits.ts'
import type { VmReports } from './vm-reports.ts'

/** Messages per guest call; bounds the packed strings and the work between deadline checks. */
const MAX_BATCH = 1024

/** The prelude's side of delivery: dispatch() a packed batch, resume() after an interrupted callback, position(). */
export interface GuestDispatch {
  dispatch: QuickJSHandle
  resume: QuickJSHandle
  position: QuickJSHandle
}

/**
 * Hands a VM's queued messages to its ms_subscribe callbacks, many per guest call: host→guest
 * calls dominate the cost of a callback, so topics and payloads travel packed (DISPATCH in
 * wire-formats.ts). The guest re-arms the CPU deadline through host.tick() whenever its clock
 * moves, so the limit still applies per callback; when one is interrupted the batch resumes
 * after it.
 */
export class DeliveryDispatch {
  /** The deliveries of the batch being dispatched, for naming the topic in error logs. */
  private batch: Delivery[] | undefined

  constructor(
    private readonly vm: VmCalls,
    private readonly guest: GuestDispatch,
    private readonly subs: HandleRegistry,
    private readonly deadline: CpuDeadline,
    private readonly reports: VmReports,
  ) {}

  /** The topic of the batch's `index`th message, for a callback's error. */
  topicAt(index: number): string | undefined {
    return this.batch?.[index]?.topic
  }

  deliver(inbox: Delivery[]): void {
    for (let i = 0; i < inbox.length && this.vm.alive; i += MAX_BATCH) {
      this.deliverBatch(inbox.length <= MAX_BATCH ? inbox : inbox.slice(i, i + MAX_BATCH))
    }
  }

  private deliverBatch(chunk: Delivery[]): void {
    const { live, callbacks, text, meta, clientIds, binary, properties } = packDeliveries(chunk, (subId) =>
      this.subs.get(subId),
    )
    if (live.length === 0) return
    const ctx = this.vm.ctx
    const { dispatch, resume } = this.guest
    this.batch = live
    try {
      // The handles are released inside the call's own scope: if the VM is disposed when the
      // call returns (a deferred dispose), nothing of ours may still be alive in it.
      let error = this.vm.run('callback', () => {
        const handles: QuickJSHandle[] = []
        const own = (h: QuickJSHandle) => {
          handles.push(h)
          return h
        }
        try {
          const callbackArray = own(ctx.newArray())
          for (const [i, callback] of callbacks.entries()) ctx.setProp(callbackArray, i, callback)
          return this.vm.callGuest(dispatch, [
            own(newGuestText(ctx, text)),
            own(ctx.newArrayBuffer(meta)),
            callbackArray,
            own(ctx.newString(clientIds)),
            binary ? own(ctx.newArrayBuffer(binary)) : ctx.undefined,
            own(ctx.newString(properties)),
          ])
        } finally {
          for (const h of handles) h.dispose()
        }
      })
      for (let resumes = 0; error && this.vm.alive && resumes <= live.length; resumes++) {
        const failed = live[this.position() - 1]
        this.reports.logError(`error in ms_subscribe callback for ${failed?.topic ?? '?'}`, error)
        error = this.vm.run('callback', () => this.vm.callGuest(resume, []))
      }
      if (error && !this.vm.alive) this.reports.logError('error in ms_subscribe callback', error)
    } finally {
      this.batch = undefined
    }
  }

  dispose(): void {
    this.guest.dispatch.dispose()
    this.guest.resume.dispose()
    this.guest.position.dispose()
  }

  /** How far the guest got through the batch (messages started). */
  private position(): number {
    if (this.vm.dead) return 0
    const ctx = this.vm.ctx
    this.deadline.arm()
    const result = ctx.callFunction(this.guest.position, ctx.undefined)
    if (result.error) {
      result.error.dispose()
      return 0
    }
    const n = ctx.getNumber(result.value)
    result.value.dispose()
    return n
  }
}
