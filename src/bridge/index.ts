import type { Broker } from '../broker/broker.ts'
import { Bridge, type BridgeStatus } from './bridge.ts'
import { type BridgeSpec, resolveBridges } from './config.ts'

export type { BridgeStatus } from './bridge.ts'
export { localStateTopic } from './bridge.ts'
export type { BridgeDirection, BridgeSpec, BridgeTlsSpec, BridgeTopicSpec } from './config.ts'
export { parseBridgeSpecs, resolveBridges } from './config.ts'

/** The running bridges of a broker. */
export interface Bridges {
  status(): BridgeStatus[]
}

const running = new WeakMap<Broker, Bridges>()

/**
 * Starts the bridges of a running broker (after it listens) and stops them when it closes.
 * Resolves once each has read its TLS files and begun connecting; the remotes may come later.
 */
export async function startBridges(broker: Broker, specs: readonly BridgeSpec[]): Promise<Bridges> {
  const bridges = resolveBridges(specs).map((config) => new Bridge(broker, config))
  const started: Bridge[] = []
  const stopAll = async (): Promise<void> => {
    await Promise.all(started.map((b) => b.stop()))
  }
  try {
    for (const bridge of bridges) {
      await bridge.start()
      started.push(bridge)
    }
  } catch (error) {
    await stopAll()
    throw error
  }
  broker.addCloseHook(stopAll)
  const handle: Bridges = { status: () => bridges.map((b) => b.status()) }
  running.set(broker, handle)
  return handle
}

/** The bridges started with this broker (startBroker's `bridges`), if any. */
export function bridgesOf(broker: Broker): Bridges | undefined {
  return running.get(broker)
}
