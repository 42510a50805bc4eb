import type { BrokerCore } from '../broker.ts';
import type { Connection } from '../connection.ts';
import type { ConnectPacket } from '../protocol/packets.ts';
export declare function handleConnect(broker: BrokerCore, connection: Connection, packet: ConnectPacket): void;
