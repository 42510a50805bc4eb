import { decodeConnect, decodePacket } from "../protocol/decode.js";
import { ProtocolError, Reason } from "../protocol/errors.js";
import { PacketType } from "../protocol/packets.js";
import { handleAck } from "./acks.js";
import { handleConnect } from "./connect.js";
import { handleDisconnect } from "./disconnect.js";
import { handlePing } from "./ping.js";
import { handlePublish } from "./publish.js";
import { handleSubscribe } from "./subscribe.js";
import { handleUnsubscribe } from "./unsubscribe.js";
/**
 * Checks the connection's state, decodes, and sends each packet to its handler. Handlers
 * throw ProtocolError; the connection turns that into a logged close of this client only.
 */
export function dispatch(broker, connection, header, body) {
    if (connection.state === 'closed')
        return;
    if (connection.state === 'connecting') {
        if (header >> 4 !== PacketType.connect) {
            throw new ProtocolError('first packet must be CONNECT [MQTT-3.1.0-1]', Reason.protocolError);
        }
        handleConnect(broker, connection, decodeConnect(header, body));
        return;
    }
    const packet = decodePacket(header, body, connection.version);
    switch (packet.cmd) {
        case 'publish':
            handlePublish(broker, connection, packet);
            return;
        case 'puback':
        case 'pubrec':
        case 'pubrel':
        case 'pubcomp':
            handleAck(broker, connection, packet);
            return;
        case 'subscribe':
            handleSubscribe(broker, connection, packet);
            return;
        case 'unsubscribe':
            handleUnsubscribe(broker, connection, packet);
            return;
        case 'pingreq':
            handlePing(connection);
            return;
        case 'disconnect':
            handleDisconnect(broker, connection, packet);
            return;
        default:
            throw new ProtocolError(`unexpected ${packet.cmd} packet`, Reason.protocolError);
    }
}
//# sourceMappingURL=index.js.map