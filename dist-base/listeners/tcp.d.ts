import type { Broker } from '../broker/broker.ts';
import type { Listener, ListenerCommon } from './types.ts';
/** An extra plain MQTT listener (the broker's own TCP listener is `port`). */
export declare function startTcpListener(broker: Broker, spec: ListenerCommon): Promise<Listener>;
