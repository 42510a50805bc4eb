import type { IDisconnectPacket } from 'mqtt-packet';
import type { BrokerCore } from '../broker.ts';
import type { Connection } from '../connection.ts';
export declare function handleDisconnect(broker: BrokerCore, connection: Connection, packet: IDisconnectPacket): void;
