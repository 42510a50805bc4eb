import type { BrokerCore } from '../broker.ts';
import type { Connection } from '../connection.ts';
/**
 * Checks the connection's state, decodes, and sends each packet to its handler. Handlers
 * throw ProtocolError; the connection turns that into a logged close of this client only.
 */
export declare function dispatch(broker: BrokerCore, connection: Connection, header: number, body: Buffer): void;
