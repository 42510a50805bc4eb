import type { QuickJSHandle } from 'quickjs-emscripten'
import type { LongTimer } from '../util/long-timer.ts'
import { HandleRegistry } from './handle-registry.ts'
import type { ScriptLimits } from './options.ts'
import { compileSchedule, Scheduler } from './schedules.ts'
import type { VmCalls } from './vm-calls.ts'
import type { VmEnvironment } from './vm-environment.ts'
import type { VmReports } from './vm-reports.ts'

/**
 * A VM's setTimeout/setInterval timers and ms_schedule schedules: their guest callbacks, kept in
 * registries until cleared or the VM goes, and the host timers that fire them. Both count
 * against the one `maxTimers` limit.
 */
export class VmTimers {
  private readonly timers: HandleRegistry
  private readonly hostTimers = new Map<number, LongTimer>()
  /** ms_schedule callbacks, by the same id as their entry in `scheduler`. */
  private readonly schedules: HandleRegistry
  private readonly scheduler: Scheduler
  private nextTimerId = 1

  constructor(
    private readonly vm: VmCalls,
    private readonly limits: ScriptLimits,
    private readonly env: VmEnvironment,
    private readonly reports: VmReports,
  ) {
    this.timers = new HandleRegistry(() => vm.inCall)
    this.schedules = new HandleRegistry(() => vm.inCall)
    this.scheduler = new Scheduler((id, at) => this.fireSchedule(id, at), env.scheduleClock)
  }

  /** Live timers and schedules. */
  get count(): number {
    return this.timers.size + this.schedules.size
  }

  setTimer(callback: QuickJSHandle, ms: number, repeat: boolean): number {
    if (this.count >= this.limits.maxTimers) {
      throw new RangeError(`timer limit of ${this.limits.maxTimers} reached`)
    }
    const id = this.nextTimerId++
    this.timers.add(id, callback.dup())
    const fire = () => this.fireTimer(id, repeat)
    // An interval of 0 would spin the worker; a delay past 24.8 days is armed in chunks.
    const delay = Math.max(ms, repeat ? 1 : 0)
    this.hostTimers.set(id, repeat ? this.env.setInterval(fire, delay) : this.env.setTimeout(fire, delay))
    return id
  }

  clearTimer(id: number): void {
    this.hostTimers.get(id)?.cancel()
    this.hostTimers.delete(id)
    this.timers.remove(id)
  }

  schedule(spec: string, callback: QuickJSHandle): number {
    let nextRun: ReturnType<typeof compileSchedule>
    try {
      nextRun = compileSchedule(spec, { location: this.limits.location })
    } catch (e) {
      throw new (e instanceof SyntaxError ? SyntaxError : Error)(
        `ms_schedule: ${e instanceof Error ? e.message : String(e)}`,
      )
    }
    if (this.count >= this.limits.maxTimers) {
      throw new RangeError(`ms_schedule: timer limit of ${this.limits.maxTimers} reached`)
    }
    const id = this.nextTimerId++
    this.schedules.add(id, callback.dup())
    this.scheduler.add(id, nextRun)
    return id
  }

  unschedule(id: number): boolean {
    this.scheduler.remove(id)
    return this.schedules.remove(id)
  }

  /** When the schedule fires next (epoch ms), undefined when it will not. */
  nextRun(id: number): number | undefined {
    return this.scheduler.next(id)
  }

  /** Disposes the callbacks cleared during the call that just ended. */
  flushGraveyard(): void {
    this.timers.flushGraveyard()
    this.schedules.flushGraveyard()
  }

  /** Stops every host timer; `disposeCallbacks` is false after a crash, when the VM's memory is not to be touched. */
  close(disposeCallbacks: boolean): void {
    for (const t of this.hostTimers.values()) t.cancel()
    this.hostTimers.clear()
    this.scheduler.clear()
    if (!disposeCallbacks) return
    this.timers.disposeAll()
    this.schedules.disposeAll()
  }

  private fireTimer(id: number, repeat: boolean): void {
    const callback = this.timers.get(id)
    if (!callback || !this.vm.alive) return
    const error = this.vm.run('timer', () => {
      if (!repeat) this.clearTimer(id)
      return this.vm.callGuest(callback, [])
    })
    if (error) {
      this.reports.logError(repeat ? 'error in setInterval callback' : 'error in setTimeout callback', error)
    }
  }

  private fireSchedule(id: number, at: number): void {
    const callback = this.schedules.get(id)
    if (!callback || !this.vm.alive) return
    const ctx = this.vm.ctx
    const error = this.vm.run('schedule', () => {
      const time = ctx.newNumber(at)
      try {
        return this.vm.callGuest(callback, [time])
      } finally {
        time.dispose()
      }
    })
    if (error) this.reports.logError('error in ms_schedule callback', error)
  }
}
