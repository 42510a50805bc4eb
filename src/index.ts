import { Broker } from './broker/broker.ts'
import type { BrokerOptions } from './broker/types.ts'
import type { Store } from './store/store.ts'

export { Broker } from './broker/broker.ts'
export type {
  BrokerEvents,
  BrokerOptions,
  ClientInfo,
  Message,
  MessageHandler,
  ProtocolVersion,
  PublishInput,
  QoS,
  SubscribeOptions,
} from './broker/types.ts'
export { MemoryStore } from './store/memory.ts'
export type { SessionRecord, Store, StoredState } from './store/store.ts'

export interface StartOptions extends BrokerOptions {
  /** Persistence backend (default: in memory). */
  store?: Store
}

/** Starts a broker; resolves once it is listening (the counterpart of mosq_broker_run). */
export async function startBroker(options: StartOptions = {}): Promise<Broker> {
  const broker = new Broker(options)
  await broker.start()
  return broker
}
