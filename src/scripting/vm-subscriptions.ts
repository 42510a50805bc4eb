import type { QuickJSHandle } from 'quickjs-emscripten'
import { filterError as topicFilterProblem } from '../broker/topic-rules.ts'
import { ChangeFilter } from './change-filter.ts'
import { HandleRegistry } from './handle-registry.ts'
import type { ScriptLimits } from './options.ts'
import type { FromWorker } from './protocol.ts'
import type { Delivery } from './thread-batches.ts'

/**
 * A VM's ms_subscribe callbacks, by subscription id, kept until unsubscribed or the VM goes;
 * the host mirrors each one onto the broker ('sub' / 'unsub').
 */
export class VmSubscriptions {
  readonly callbacks: HandleRegistry
  /** Subscriptions made with `{ changes: true }`, by subId. */
  private readonly changeFilters = new Map<number, ChangeFilter>()
  private nextSubId = 1

  constructor(
    private readonly vmId: number,
    private readonly limits: Pick<ScriptLimits, 'maxSubscriptions'>,
    inCall: () => boolean,
    private readonly send: (msg: FromWorker) => void,
  ) {
    this.callbacks = new HandleRegistry(inCall)
  }

  subscribe(filter: string, callback: QuickJSHandle, changes: boolean): number {
    const problem = topicFilterProblem(filter)
    if (problem) throw new TypeError(`ms_subscribe: ${problem}`)
    const max = this.limits.maxSubscriptions
    if (this.callbacks.size >= max) {
      throw new RangeError(`ms_subscribe: limit of ${max} subscriptions reached`)
    }
    const subId = this.nextSubId++
    this.callbacks.add(subId, callback.dup())
    if (changes) this.changeFilters.set(subId, new ChangeFilter())
    this.send({ t: 'sub', vmId: this.vmId, subId, filter })
    return subId
  }

  unsubscribe(subId: number): boolean {
    if (!this.callbacks.remove(subId)) return false
    this.changeFilters.delete(subId)
    this.send({ t: 'unsub', vmId: this.vmId, subId })
    return true
  }

  /**
   * False for a message that repeats the last state seen on its topic by a `{ changes: true }`
   * subscription: skipped before packing, so a repeated state costs no guest call at all.
   */
  wants(delivery: Delivery): boolean {
    const changes = this.changeFilters.size > 0 ? this.changeFilters.get(delivery.subId) : undefined
    return changes?.repeats(delivery.topic, delivery.payload) !== true
  }

  disposeAll(): void {
    this.callbacks.disposeAll()
    this.changeFilters.clear()
  }
}
