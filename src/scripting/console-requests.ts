import type { ConsoleReply } from './script-console.ts'

/** Characters of a console expression at most. */
export const MAX_EXPRESSION = 64 * 1024

/**
 * The dashboard console's evaluations on their way through the worker, by id: each is answered
 * by the worker's 'evalResult', or failed when the worker that had it is gone.
 */
export class ConsoleRequests {
  private readonly waiting = new Map<number, (reply: ConsoleReply) => void>()
  private nextId = 1

  /** Sends one evaluation (`send` gets its id) and resolves with its answer. */
  start(send: (id: number) => void): Promise<ConsoleReply> {
    const id = this.nextId++
    return new Promise((resolve) => {
      this.waiting.set(id, resolve)
      send(id)
    })
  }

  answer(id: number, reply: ConsoleReply): void {
    this.waiting.get(id)?.(reply)
    this.waiting.delete(id)
  }

  /** Answers the evaluations still waiting: the worker that had them is gone. */
  failAll(error: string): void {
    for (const resolve of this.waiting.values()) resolve({ ok: false, error })
    this.waiting.clear()
  }
}
