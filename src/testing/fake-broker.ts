import { LastValues } from '../broker/last-values.ts'
import { RetainedTree } from '../broker/retained.ts'
import { SubscriptionTree } from '../broker/topics.ts'
import type { Message } from '../broker/types.ts'
import type { SyncReply, SyncRequest } from '../scripting/protocol.ts'
import { propertiesForScript } from '../scripting/script-properties.ts'
import type { ScriptVm } from '../scripting/script-vm.ts'
import type { LastValueInfo } from './harness-types.ts'

interface Subscription {
  vmId: number
  subId: number
  filter: string
}

/** Rounds of deliveries a script may cause to itself in one go (a script that feeds its own subscription). */
const MAX_DELIVERY_ROUNDS = 10_000

/**
 * The broker around a script under test: the broker's own subscription tree, retained messages
 * and last values, routing to the VMs' subscriptions on the caller's thread.
 */
export class FakeBroker {
  private readonly subs = new Map<string, Subscription>()
  private readonly tree = new SubscriptionTree<Subscription, true>()
  private readonly retained = new RetainedTree()
  private readonly lastValues = new LastValues(10_000)
  private readonly waiting = new Set<ScriptVm>()

  constructor(
    private readonly now: () => number,
    private readonly vmOf: (vmId: number) => ScriptVm | undefined,
    private readonly reportError: (text: string) => void,
  ) {}

  /** The filters `vmId` is subscribed to, in the order it subscribed. */
  filtersOf(vmId: number | undefined): string[] {
    return [...this.subs.values()].filter((s) => s.vmId === vmId).map((s) => s.filter)
  }

  subscribe(vmId: number, subId: number, filter: string): void {
    const sub: Subscription = { vmId, subId, filter }
    this.subs.set(`${vmId}/${subId}`, sub)
    this.tree.add(filter, sub, true)
    // Matching retained messages arrive right away, retain set, as from the broker.
    const vm = this.vmOf(vmId)
    if (!vm) return
    for (const m of this.retained.match(filter)) this.enqueue(vm, sub, m, true)
  }

  unsubscribe(vmId: number, subId: number): void {
    const key = `${vmId}/${subId}`
    const sub = this.subs.get(key)
    if (!sub) return
    this.subs.delete(key)
    this.tree.remove(sub.filter, sub)
  }

  dropSubscriptions(vmId: number): void {
    for (const [key, sub] of this.subs) {
      if (sub.vmId !== vmId) continue
      this.subs.delete(key)
      this.tree.remove(sub.filter, sub)
    }
  }

  route(message: Message): void {
    this.lastValues.record(message, this.now())
    if (message.retain) this.retained.set(message)
    this.tree.match(message.topic, (sub) => {
      const vm = this.vmOf(sub.vmId)
      // Live delivery clears the retain flag, as the broker's does for its handlers.
      if (vm) this.enqueue(vm, sub, message, false)
    })
  }

  /** Hands queued messages to the scripts, including what their callbacks publish to themselves. */
  pump(): void {
    for (let round = 0; this.waiting.size > 0; round++) {
      const vms = [...this.waiting]
      this.waiting.clear()
      if (round >= MAX_DELIVERY_ROUNDS) {
        this.reportError(
          `harness: the script kept publishing to its own subscriptions for ${MAX_DELIVERY_ROUNDS} rounds; the rest is dropped`,
        )
        return
      }
      for (const vm of vms) vm.flushDeliveries()
    }
  }

  /** What `ms_get(topic)` would answer. */
  lastValue(topic: string): LastValueInfo | undefined {
    const v = this.lastValues.get(topic)
    if (!v) return undefined
    return {
      payload: v.payload.toString('utf8'),
      bytes: new Uint8Array(v.payload),
      qos: v.qos,
      retain: v.retain,
      at: v.at,
    }
  }

  answer(req: SyncRequest): SyncReply {
    // ms_port names a listener the harness does not have: accepted, like the port already bound.
    if (req.t === 'port') return { ok: true }
    const value = this.lastValues.get(req.topic)
    if (!value) return { ok: true }
    return {
      ok: true,
      value: { payload: new Uint8Array(value.payload), qos: value.qos, retain: value.retain, at: value.at },
    }
  }

  private enqueue(vm: ScriptVm, sub: Subscription, message: Message, retain: boolean): void {
    vm.enqueue({
      subId: sub.subId,
      topic: message.topic,
      payload: message.payload,
      qos: message.qos,
      retain,
      clientId: message.clientId,
      properties: propertiesForScript(message.properties, message.expiresAt, this.now()),
    })
    this.waiting.add(vm)
  }
}
