import type { QuickJSHandle } from 'quickjs-emscripten'
import { formatScriptError, type ScriptError } from './error-location.ts'
import {
  type ConsoleOutcome,
  type ConsoleReply,
  type GuestConsole,
  waitForConsole,
} from './script-console.ts'
import type { VmCalls } from './vm-calls.ts'

/**
 * The dashboard console's way into a running VM: an expression runs in the script's module
 * scope inside the usual call bracket, so under the same limits as its callbacks, and its
 * publishes go out like the script's own.
 */
export class VmConsole {
  constructor(
    private readonly vm: VmCalls,
    readonly name: string,
    private readonly guestConsole: GuestConsole,
  ) {}

  get alive(): boolean {
    return this.vm.alive
  }

  evaluate(expression: string): ConsoleReply | Promise<ConsoleReply> {
    const guestConsole = this.guestConsole
    if (!this.vm.alive) return this.failed(undefined)
    let outcome: ConsoleOutcome | undefined
    const error = this.vm.run('console', () => {
      outcome = guestConsole.evaluate(expression)
      return 'reply' in outcome ? outcome.error : undefined
    })
    if (outcome !== undefined && 'pending' in outcome) {
      if (!error) return waitForConsole(this, guestConsole, outcome.pending)
      guestConsole.forget(outcome.pending)
      return this.failed(error)
    }
    return this.reply(outcome?.reply, error)
  }

  /** Formats a settled console promise inside the usual call bracket. */
  finishConsole(guestConsole: GuestConsole, promise: QuickJSHandle): ConsoleReply {
    let reply: ConsoleReply | undefined
    const error = this.vm.run('console', () => {
      const finished = guestConsole.finish(promise)
      reply = finished.reply
      return finished.error
    })
    return this.reply(reply, error)
  }

  dispose(): void {
    this.guestConsole.dispose()
  }

  /** A VM that crashed answers with the crash; other errors are already in the reply. */
  private reply(reply: ConsoleReply | undefined, error: ScriptError | undefined): ConsoleReply {
    if (reply === undefined || (error !== undefined && reply.ok)) return this.failed(error)
    return reply
  }

  private failed(error: ScriptError | undefined): ConsoleReply {
    return { ok: false, error: error ? formatScriptError(error) : `${this.name} is not running` }
  }
}
