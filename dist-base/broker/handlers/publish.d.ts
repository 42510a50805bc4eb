import type { BrokerCore } from '../broker.ts';
import type { Connection } from '../connection.ts';
import { type PublishPacket } from '../protocol/packets.ts';
export declare function handlePublish(broker: BrokerCore, connection: Connection, packet: PublishPacket): void;
