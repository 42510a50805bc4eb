import type { Logger } from 'pino'
import type { Message, MessageProperties, QoS } from '../broker/types.ts'
import type { ScriptBroker } from './host-interfaces.ts'
import type { FromWorker, LastValueReply, SyncReply, SyncRequest } from './protocol.ts'

/**
 * What the scripts do to the broker: their subscriptions mirrored onto it, by VM (a VM's end
 * together when it goes, dropVm), their publishes, ms_user/ms_pass, and the answers to the
 * worker's synchronous requests (ms_port, ms_get).
 */
export class BrokerMirror {
  private readonly subs = new Map<number, Map<number, () => void>>()
  private user: string | undefined
  private pass: string | undefined

  constructor(
    private readonly broker: ScriptBroker,
    private readonly log: Logger,
  ) {
    // ms_user alone must keep the password set at start (and ms_pass alone the user).
    this.user = broker.auth?.username
    this.pass = broker.auth?.password
  }

  setCredentials(msg: FromWorker & { t: 'credentials' }): void {
    if ('user' in msg) this.user = msg.user
    if ('pass' in msg) this.pass = msg.pass
    this.broker.setCredentials(this.user, this.pass)
  }

  /** VMs with subscriptions. */
  vmIds(): number[] {
    return [...this.subs.keys()]
  }

  subscriptionCount(vmId: number): number {
    return this.subs.get(vmId)?.size ?? 0
  }

  subscribe(vmId: number, subId: number, filter: string, deliver: (m: Message) => void): void {
    let byVm = this.subs.get(vmId)
    if (!byVm) {
      byVm = new Map()
      this.subs.set(vmId, byVm)
    }
    try {
      byVm.set(subId, this.broker.subscribe(filter, deliver))
    } catch (e) {
      this.log.warn({ err: e, filter }, 'script subscription rejected by the broker')
    }
  }

  unsubscribe(vmId: number, subId: number): void {
    const byVm = this.subs.get(vmId)
    byVm?.get(subId)?.()
    byVm?.delete(subId)
  }

  dropVm(vmId: number): void {
    const byVm = this.subs.get(vmId)
    if (byVm) for (const unsubscribe of byVm.values()) unsubscribe()
    this.subs.delete(vmId)
  }

  /** A script's publish; a bound function, handed as-is to unpackPublishes for every batch. */
  readonly publish = (
    topic: string,
    payload: Uint8Array,
    qos: QoS,
    retain: boolean,
    properties: MessageProperties | undefined,
  ): void => {
    this.broker
      .publish(properties ? { topic, payload, qos, retain, properties } : { topic, payload, qos, retain })
      .catch((e: unknown) => this.log.warn({ err: e, topic }, 'script publish failed'))
  }

  async answer(req: SyncRequest): Promise<SyncReply> {
    if (req.t === 'get') return { ok: true, value: this.lastValueReply(req.topic) }
    // autoexec scripts often name the port the broker already has (ms_port(1883) at start);
    // binding it a second time would fail, so that is a no-op.
    if (req.port === this.broker.port) return { ok: true }
    try {
      const port = await this.broker.listen(req.port)
      return port === req.port || req.port === 0 ? { ok: true } : { ok: false, message: `bound ${port}` }
    } catch (e) {
      return {
        ok: false,
        message: `cannot listen on port ${req.port}: ${e instanceof Error ? e.message : String(e)}`,
      }
    }
  }

  /** The payload goes in a copy of its own: a view would be cloned with its whole buffer. */
  private lastValueReply(topic: string): LastValueReply | undefined {
    const value = this.broker.lastValue?.(topic)
    if (!value) return undefined
    return { payload: new Uint8Array(value.payload), qos: value.qos, retain: value.retain, at: value.at }
  }
}
