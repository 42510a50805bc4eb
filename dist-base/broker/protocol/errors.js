/**
 * Reason codes a protocol failure maps to. The numbers are MQTT 5's; for 3.1.1 only the
 * CONNACK return codes go on the wire, every other failure just closes the connection.
 */
export const Reason = {
    unspecified: 0x80,
    malformedPacket: 0x81,
    protocolError: 0x82,
    notAuthorized: 0x87,
    serverShuttingDown: 0x8b,
    administrativeAction: 0x98,
    keepAliveTimeout: 0x8d,
    sessionTakenOver: 0x8e,
    topicFilterInvalid: 0x8f,
    topicNameInvalid: 0x90,
    receiveMaximumExceeded: 0x93,
    topicAliasInvalid: 0x94,
    packetTooLarge: 0x95,
    quotaExceeded: 0x97,
    payloadFormatInvalid: 0x99,
};
/** A peer broke the protocol: the connection is closed, the reason logged at warn. */
export class ProtocolError extends Error {
    reason;
    constructor(message, reason = Reason.malformedPacket) {
        super(message);
        this.name = 'ProtocolError';
        this.reason = reason;
    }
}
//# sourceMappingURL=errors.js.map