import type { Store } from '../store/store.ts'
import type { BrokerOptions } from './types.ts'

/** What building a broker takes: its options and the store it keeps state in. */
export interface BrokerSetup extends BrokerOptions {
  /** Where state that outlives the process goes (startBroker picks MemoryStore or LmdbStore). */
  store: Store
  /** Close the store when the broker closes, after its last writes (default false). */
  ownsStore?: boolean | undefined
}

/** The broker's options with their defaults applied and clamped to what MQTT allows. */
export interface ResolvedOptions {
  port: number
  host: string
  maxPacketSize: number
  maxInflight: number
  maxQueuedMessages: number
  receiveMaximum: number
  topicAliasMaximum: number
  maxKeepalive: number
  connectTimeout: number
  maxConnections: number
  stallTimeout: number
  lastValues: number | undefined
}

export function resolveOptions(options: BrokerOptions): ResolvedOptions {
  return {
    port: options.port ?? 1883,
    host: options.host ?? '0.0.0.0',
    maxPacketSize: options.maxPacketSize ?? 2_000_000,
    maxInflight: Math.min(Math.max(options.maxInflight ?? 20, 1), 65_535),
    maxQueuedMessages: options.maxQueuedMessages ?? 1000,
    receiveMaximum: Math.min(Math.max(options.receiveMaximum ?? 65_535, 1), 65_535),
    topicAliasMaximum: Math.min(Math.max(options.topicAliasMaximum ?? 10, 0), 65_535),
    maxKeepalive: Math.min(Math.max(options.maxKeepalive ?? 0, 0), 65_535),
    connectTimeout: options.connectTimeout ?? 10,
    maxConnections: Math.max(options.maxConnections ?? 0, 0),
    stallTimeout: Math.max(options.stallTimeout ?? 10, 0),
    lastValues: options.lastValues === undefined ? undefined : Math.max(Math.floor(options.lastValues), 0),
  }
}
