import { encodeAck } from "../protocol/encode.js";
import { PacketType } from "../protocol/packets.js";
/** PUBACK, PUBREC, PUBREL and PUBCOMP: the two halves of the QoS 1 and QoS 2 handshakes. */
export function handleAck(broker, connection, packet) {
    const session = connection.session;
    const id = packet.messageId;
    let known;
    switch (packet.cmd) {
        case 'puback':
            known = session.complete(id, 'publish');
            break;
        case 'pubrec':
            known = session.received(id, (packet.reasonCode ?? 0) >= 0x80);
            break;
        case 'pubcomp':
            known = session.complete(id, 'pubrel');
            break;
        case 'pubrel':
            // Always answered, even for an unknown id: the client may be retrying after we
            // already released it [MQTT-4.3.3-2].
            session.releaseIncomingQos2(id);
            broker.persistence.acknowledge(connection, encodeAck(PacketType.pubcomp, id, connection.version));
            return;
    }
    if (!known)
        broker.logger.debug({ clientId: connection.clientId, messageId: id }, `${packet.cmd} for unknown packet id`);
}
//# sourceMappingURL=acks.js.map