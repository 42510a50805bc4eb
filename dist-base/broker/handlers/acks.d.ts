import type { BrokerCore } from '../broker.ts';
import type { Connection } from '../connection.ts';
import { type AckPacket } from '../protocol/packets.ts';
/** PUBACK, PUBREC, PUBREL and PUBCOMP: the two halves of the QoS 1 and QoS 2 handshakes. */
export declare function handleAck(broker: BrokerCore, connection: Connection, packet: AckPacket): void;
