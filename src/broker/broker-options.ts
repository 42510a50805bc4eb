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

/**
 * The defaults of the broker's options, named once: resolveOptions applies them and the settings
 * table (src/settings/table.ts) shows them in --help and the README.
 */
export const brokerDefaults = {
  port: 1883,
  host: '0.0.0.0',
  maxPacketSize: 2_000_000,
  maxInflight: 20,
  maxQueuedMessages: 1000,
  receiveMaximum: 65_535,
  topicAliasMaximum: 10,
  maxKeepalive: 0,
  connectTimeout: 10,
  maxConnections: 0,
  stallTimeout: 10,
} as const

export function resolveOptions(options: BrokerOptions): ResolvedOptions {
  const d = brokerDefaults
  return {
    port: options.port ?? d.port,
    host: options.host ?? d.host,
    maxPacketSize: options.maxPacketSize ?? d.maxPacketSize,
    maxInflight: Math.min(Math.max(options.maxInflight ?? d.maxInflight, 1), 65_535),
    maxQueuedMessages: options.maxQueuedMessages ?? d.maxQueuedMessages,
    receiveMaximum: Math.min(Math.max(options.receiveMaximum ?? d.receiveMaximum, 1), 65_535),
    topicAliasMaximum: Math.min(Math.max(options.topicAliasMaximum ?? d.topicAliasMaximum, 0), 65_535),
    maxKeepalive: Math.min(Math.max(options.maxKeepalive ?? d.maxKeepalive, 0), 65_535),
    connectTimeout: options.connectTimeout ?? d.connectTimeout,
    maxConnections: Math.max(options.maxConnections ?? d.maxConnections, 0),
    stallTimeout: Math.max(options.stallTimeout ?? d.stallTimeout, 0),
    lastValues: options.lastValues === undefined ? undefined : Math.max(Math.floor(options.lastValues), 0),
  }
}
