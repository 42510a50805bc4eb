import { encodeUnsuback } from "../protocol/encode.js";
const success = 0x00;
const noSubscriptionExisted = 0x11;
export function handleUnsubscribe(broker, connection, packet) {
    const session = connection.session;
    const reasons = packet.unsubscriptions.map((filter) => broker.removeSubscription(session, filter) ? success : noSubscriptionExisted);
    // Answered even when nothing matched [MQTT-3.10.4-5].
    broker.persistence.acknowledge(connection, encodeUnsuback(packet.messageId, connection.version, reasons));
}
//# sourceMappingURL=unsubscribe.js.map