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
import { type BridgeConfig, type BridgeSpec, resolveBridges } from './config.ts'

export type { BridgeStatus } from './bridge.ts'
export { localStateTopic } from './bridge.ts'
export type { BridgeDirection, BridgeSpec, BridgeTlsSpec, BridgeTopicSpec } from './config.ts'
export { parseBridgeSpecs, resolveBridges } from './config.ts'

/** The running bridges of a broker. */
export interface Bridges {
  status(): BridgeStatus[]
  /**
   * Brings the running bridges in line with `specs` (a reload): a bridge whose spec is new is
   * started, one no longer listed is stopped, one whose spec changed is restarted; the others
   * go on untouched. Rejects before changing anything when a spec is invalid; rejects when a
   * bridge cannot start (its TLS files), leaving the ones handled before it as they are.
   */
  update(specs: readonly BridgeSpec[]): Promise<BridgeChanges>
}

/** What an update did, by bridge name. */
export interface BridgeChanges {
  added: string[]
  removed: string[]
  changed: string[]
}

const running = new WeakMap<Broker, Bridges>()

/** Identifies a bridge's configuration, to tell a changed bridge from an unchanged one. */
const fingerprint = (config: BridgeConfig): string => JSON.stringify(config)

/**
 * Starts the bridges of a running broker (after it listens) and stops them when it closes.
 * Resolves once each has read its TLS files and begun connecting; the remotes may come later.
 * Calling it again for the same broker updates the running set (see Bridges.update).
 */
export async function startBridges(broker: Broker, specs: readonly BridgeSpec[]): Promise<Bridges> {
  const existing = running.get(broker)
  if (existing) {
    await existing.update(specs)
    return existing
  }
  let bridges: Bridge[] = []
  const stopAll = async (): Promise<void> => {
    await Promise.all(bridges.map((b) => b.stop()))
  }
  const update = async (next: readonly BridgeSpec[]): Promise<BridgeChanges> => {
    const configs = resolveBridges(next)
    const current = new Map(bridges.map((b) => [b.config.name, b]))
    const kept = new Set(
      configs
        .filter((c) => {
          const old = current.get(c.name)
          return old !== undefined && fingerprint(old.config) === fingerprint(c)
        })
        .map((c) => c.name),
    )
    const leaving = bridges.filter((b) => !kept.has(b.config.name))
    const starting = configs.filter((c) => !kept.has(c.name)).map((c) => new Bridge(broker, c))
    // The old bridge of a changed one stops first: both would share its local session.
    await Promise.all(leaving.map((b) => b.stop()))
    const started: Bridge[] = []
    try {
      for (const bridge of starting) {
        await bridge.start()
        started.push(bridge)
      }
    } finally {
      bridges = [...bridges.filter((b) => kept.has(b.config.name)), ...started]
    }
    const names = new Set(configs.map((c) => c.name))
    return {
      added: starting.filter((b) => !current.has(b.config.name)).map((b) => b.config.name),
      removed: [...current.keys()].filter((name) => !names.has(name)),
      changed: starting.filter((b) => current.has(b.config.name)).map((b) => b.config.name),
    }
  }
  try {
    await update(specs)
  } catch (error) {
    await stopAll()
    throw error
  }
  broker.addCloseHook(stopAll)
  const handle: Bridges = { status: () => bridges.map((b) => b.status()), update }
  running.set(broker, handle)
  return handle
}

/** The bridges started with this broker (startBroker's `bridges`), if any. */
export function bridgesOf(broker: Broker): Bridges | undefined {
  return running.get(broker)
}
