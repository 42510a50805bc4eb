import type { BrokerCore } from '../broker.ts';
import type { Connection } from '../connection.ts';
import type { SubscribePacket } from '../protocol/packets.ts';
export declare function handleSubscribe(broker: BrokerCore, connection: Connection, packet: SubscribePacket): void;
