import type { BrokerCore } from '../broker.ts';
import type { Connection } from '../connection.ts';
import type { UnsubscribePacket } from '../protocol/packets.ts';
export declare function handleUnsubscribe(broker: BrokerCore, connection: Connection, packet: UnsubscribePacket): void;
