import mqttPacket from 'mqtt-packet';
import type { MessageProperties, ProtocolVersion, QoS } from '../types.ts';
export type ConnackProperties = NonNullable<mqttPacket.IConnackPacket['properties']>;
export declare function encodeConnack(version: ProtocolVersion, sessionPresent: boolean, code: number, properties?: ConnackProperties): Buffer;
/** Properties of an outgoing MQTT 5 PUBLISH: the message's, plus what is per delivery. */
export interface OutgoingProperties extends MessageProperties {
    topicAlias?: number;
    subscriptionIdentifier?: number | number[];
}
export interface PublishFields {
    topic: string;
    payload: Buffer;
    qos: QoS;
    retain: boolean;
    dup: boolean;
    messageId?: number | undefined;
}
/** MQTT 3.1 / 3.1.1 PUBLISH, written into one buffer (header, topic, id, payload). */
export declare function encodePublish(p: PublishFields): Buffer;
export declare function encodePublish5(p: PublishFields, properties: OutgoingProperties | undefined): Buffer;
type AckType = 4 | 5 | 6 | 7;
/** PUBACK, PUBREC, PUBREL (flags 0b0010) and PUBCOMP; MQTT 5 adds a reason code. */
export declare function encodeAck(type: AckType, messageId: number, version?: ProtocolVersion, reasonCode?: number, reasonString?: string): Buffer;
export declare function encodeSuback(messageId: number, granted: readonly number[], version?: ProtocolVersion): Buffer;
export declare function encodeUnsuback(messageId: number, version?: ProtocolVersion, reasons?: readonly number[]): Buffer;
/** MQTT 5 only: the server tells the client why it is being disconnected. */
export declare function encodeDisconnect(reasonCode: number, reasonString?: string): Buffer;
export declare const pingresp: Buffer;
export {};
