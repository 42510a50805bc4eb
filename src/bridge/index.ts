/**
 * src/bridge: MQTT bridges to other brokers, configured and mapped as Mosquitto's are. Each
 * bridge is an in-process MQTT 5 client of this broker (a persistent session over an in-memory
 * stream) joined to an MQTT.js client of the remote broker.
 *
 * Owns: one bridge (bridge.ts), its local session (local-link.ts over duplex-pair.ts) and the
 * access it gets past the password file and ACL (local-access.ts), its remote client
 * (remote-link.ts), the topic remapping (topic-map.ts) and the bridge specs (config.ts).
 *
 * Must not import: src/scripting, src/web, src/listeners, src/store, src/cluster, src/testing,
 * the entry points in src/; of src/broker only its public API (the Broker facade, types.ts,
 * topic-rules.ts, access/topic-match.ts, protocol/reason-codes.ts). The broker does not import
 * this folder; the embedder starts the bridges (src/index.ts, .dependency-cruiser.cjs).
 */
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
