import type { IAuthPacket, IConnectPacket, IDisconnectPacket, IPingreqPacket, IPubackPacket, IPubcompPacket, IPublishPacket, IPubrecPacket, IPubrelPacket, ISubscribePacket, IUnsubscribePacket } from 'mqtt-packet';
import type { ProtocolVersion, QoS } from '../types.ts';
export interface Will {
    topic: string;
    payload: Buffer;
    qos: QoS;
    retain: boolean;
    properties?: NonNullable<IConnectPacket['will']>['properties'];
}
export interface ConnectPacket extends Omit<IConnectPacket, 'will' | 'protocolVersion'> {
    protocolVersion: ProtocolVersion;
    will?: Will;
}
export interface PublishPacket extends Omit<IPublishPacket, 'payload'> {
    payload: Buffer;
}
export type AckPacket = (IPubackPacket | IPubrecPacket | IPubrelPacket | IPubcompPacket) & {
    messageId: number;
};
export type SubscribePacket = ISubscribePacket & {
    messageId: number;
};
export type UnsubscribePacket = IUnsubscribePacket & {
    messageId: number;
};
/** Everything a client may send to the broker. */
export type InboundPacket = ConnectPacket | PublishPacket | AckPacket | SubscribePacket | UnsubscribePacket | IPingreqPacket | IDisconnectPacket | IAuthPacket;
export declare const PacketType: {
    readonly connect: 1;
    readonly connack: 2;
    readonly publish: 3;
    readonly puback: 4;
    readonly pubrec: 5;
    readonly pubrel: 6;
    readonly pubcomp: 7;
    readonly subscribe: 8;
    readonly suback: 9;
    readonly unsubscribe: 10;
    readonly unsuback: 11;
    readonly pingreq: 12;
    readonly pingresp: 13;
    readonly disconnect: 14;
    readonly auth: 15;
};
