import type { QuickJSHandle } from 'quickjs-emscripten'
import type { ScriptError } from './error-location.ts'
import type { ScriptLimits } from './options.ts'
import { PersistSaver } from './persist-saver.ts'
import type { FromWorker } from './protocol.ts'
import type { VmCalls } from './vm-calls.ts'
import type { VmReports } from './vm-reports.ts'

/**
 * A VM's global `persist`: restored from the stored JSON before the script's top level runs,
 * then read and saved by a PersistSaver when a call may have changed it. The guest's two
 * functions (persistInit, persistJson) come from the prelude.
 */
export class VmPersist {
  private saver: PersistSaver | undefined
  /** Set once the state was saved on the way out, so the dispose that follows does not save again. */
  private final = false

  constructor(
    private readonly vm: VmCalls,
    private readonly name: string,
    private readonly limits: Pick<ScriptLimits, 'maxPersistBytes'>,
    private readonly init: QuickJSHandle,
    private readonly toJson: QuickJSHandle,
    private readonly send: (msg: FromWorker) => void,
    private readonly reports: VmReports,
  ) {}

  /** Defines `persist` from the stored JSON (undefined: none yet) and starts saving its changes. */
  restore(json: string | undefined): void {
    const ctx = this.vm.ctx
    let restored = false
    const error = this.vm.run('persist', () => {
      const arg = json === undefined ? ctx.undefined : ctx.newString(json)
      try {
        const result = ctx.callFunction(this.init, ctx.undefined, arg)
        if (result.error) return this.vm.takeError(result.error)
        restored = ctx.dump(result.value) === true
        result.value.dispose()
        return undefined
      } finally {
        arg.dispose()
      }
    })
    if (error) this.reports.logError('persist not restored', error)
    else if (!restored) this.reports.log('error', 'the saved persist could not be read; persist starts empty')
    const io = {
      read: () => this.read(),
      save: (saved: string) => this.send({ t: 'persist', name: this.name, json: saved }),
      logError: (message: string, error?: ScriptError) =>
        error ? this.reports.logError(message, error) : this.reports.log('error', message),
    }
    // An empty persist that never changes is never written.
    const saved = restored ? (json ?? '{}') : undefined
    this.saver = new PersistSaver(io, saved, this.limits.maxPersistBytes)
  }

  /** Saves `persist` if it changed and returns its JSON. */
  snapshot(): string | undefined {
    return this.saver?.flush()
  }

  /** The JSON saved last (or restored at load). */
  get saved(): string | undefined {
    return this.saver?.lastSaved
  }

  /** A new version took the state over: this one saves no more. */
  release(): void {
    this.saver?.release()
  }

  /** A call ended that may have changed `persist`. */
  touch(): void {
    this.saver?.touch()
  }

  /**
   * Saves the last changes once, on the way out; true when this is the first time (the read
   * runs a call into the guest, whose end may dispose the VM in a nested dispose()).
   */
  saveFinal(): boolean {
    if (this.final) return false
    this.final = true
    this.saver?.flush()
    return true
  }

  /** Stops saving and releases the guest functions; `disposeHandles` is false after a crash. */
  close(disposeHandles: boolean): void {
    this.saver?.cancel()
    if (!disposeHandles) return
    this.init.dispose()
    this.toJson.dispose()
  }

  private read(): { json: string } | { error: ScriptError } | undefined {
    if (this.vm.dead) return undefined
    const ctx = this.vm.ctx
    let json: string | undefined
    const error = this.vm.run('persist', () => {
      const result = ctx.callFunction(this.toJson, ctx.undefined)
      if (result.error) return this.vm.takeError(result.error)
      json = ctx.getString(result.value)
      result.value.dispose()
      return undefined
    })
    if (error) return { error }
    return json === undefined ? undefined : { json }
  }
}
