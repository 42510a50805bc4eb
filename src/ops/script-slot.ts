import type { Broker } from '../broker/broker.ts'
import type {
  ConsoleReply,
  ScriptBroker,
  ScriptingHost,
  ScriptingOptions,
  ScriptSource,
  ScriptStatus,
} from '../scripting/index.ts'
import { startScripting } from '../scripting/index.ts'

const slots = new WeakMap<Broker, ScriptSlot>()

/** The scripting host of a broker started by startBroker with `scripts`, if any. */
export function scriptSlotOf(broker: Broker): ScriptSlot | undefined {
  return slots.get(broker)
}

/**
 * The broker's scripting host behind a fixed reference, so a reload can start the scripts of
 * another folder while the dashboard and the health check keep the object they were given.
 */
export class ScriptSlot implements ScriptingHost {
  private constructor(
    private readonly scriptBroker: ScriptBroker,
    private host: ScriptingHost | undefined,
  ) {}

  private replacing: Promise<void> | undefined
  /** False while another cluster node runs the scripts: `wanted` is kept, nothing runs. */
  private active = true
  private wanted: ScriptingOptions | undefined

  /**
   * A slot whose scripts start only when `setActive(true)` is called (a cluster node that
   * does not hold the scripts lease); registered and closed with `broker` like `start`'s.
   */
  static standby(broker: Broker, scriptBroker: ScriptBroker, options: ScriptingOptions): ScriptSlot {
    const slot = new ScriptSlot(scriptBroker, undefined)
    slot.active = false
    slot.wanted = options
    slots.set(broker, slot)
    broker.addCloseHook(() => slot.close())
    return slot
  }

  /** Starts (true) or stops (false) the wanted scripts; a no-op when already so. */
  setActive(active: boolean): Promise<void> {
    if (active === this.active) return this.replacing ?? Promise.resolve()
    this.active = active
    return this.queue(active ? this.wanted : undefined)
  }

  /** Whether the scripts of this node run (false on a cluster node without the scripts lease). */
  get running(): boolean {
    return this.active
  }

  /** Starts the scripts and registers the slot for `broker` (closed with it). */
  static async start(
    broker: Broker,
    scriptBroker: ScriptBroker,
    options: ScriptingOptions,
  ): Promise<ScriptSlot> {
    const slot = new ScriptSlot(scriptBroker, await startScripting(scriptBroker, options))
    slot.wanted = options
    slots.set(broker, slot)
    broker.addCloseHook(() => slot.close())
    return slot
  }

  /** The options the scripts run (or, on standby, would run) with (undefined: no scripts). */
  get options(): ScriptingOptions | undefined {
    return this.wanted
  }

  /**
   * Stops the running scripts (their deinit() runs and `persist` is saved) and starts those of
   * `options` (undefined: none). When the new ones cannot start, none run and this rejects.
   */
  replace(options: ScriptingOptions | undefined): Promise<void> {
    this.wanted = options
    return this.active ? this.queue(options) : Promise.resolve()
  }

  private queue(options: ScriptingOptions | undefined): Promise<void> {
    const replacing = this.swap(options)
    // close() waits for a swap under way, so scripts it starts are closed too.
    this.replacing = replacing.catch(() => undefined)
    return replacing
  }

  async close(): Promise<void> {
    await this.replacing
    await this.host?.close()
  }

  private async swap(options: ScriptingOptions | undefined): Promise<void> {
    await this.replacing
    const old = this.host
    this.host = undefined
    await old?.close()
    if (options === undefined) return
    this.host = await startScripting(this.scriptBroker, options)
  }

  scripts(): ScriptStatus[] {
    return this.host?.scripts() ?? []
  }

  reload(name: string): Promise<boolean> {
    return this.host?.reload(name) ?? Promise.resolve(false)
  }

  refresh(name: string): Promise<ScriptStatus[]> {
    return this.host?.refresh(name) ?? Promise.resolve([])
  }

  scriptSource(): ScriptSource | undefined {
    return this.host?.scriptSource()
  }

  evaluate(name: string, expression: string): Promise<ConsoleReply> {
    return (
      this.host?.evaluate(name, expression) ??
      Promise.resolve({ ok: false, error: `no script named ${name}` })
    )
  }
}
