/**
 * Reason codes a protocol failure maps to. The numbers are MQTT 5's; for 3.1.1 only the
 * CONNACK return codes go on the wire, every other failure just closes the connection.
 */
export declare const Reason: {
    readonly unspecified: 128;
    readonly malformedPacket: 129;
    readonly protocolError: 130;
    readonly notAuthorized: 135;
    readonly serverShuttingDown: 139;
    readonly administrativeAction: 152;
    readonly keepAliveTimeout: 141;
    readonly sessionTakenOver: 142;
    readonly topicFilterInvalid: 143;
    readonly topicNameInvalid: 144;
    readonly receiveMaximumExceeded: 147;
    readonly topicAliasInvalid: 148;
    readonly packetTooLarge: 149;
    readonly quotaExceeded: 151;
    readonly payloadFormatInvalid: 153;
};
export type ReasonCode = (typeof Reason)[keyof typeof Reason];
/** A peer broke the protocol: the connection is closed, the reason logged at warn. */
export declare class ProtocolError extends Error {
    readonly reason: ReasonCode;
    constructor(message: string, reason?: ReasonCode);
}
