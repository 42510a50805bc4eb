import type {
  IAuthPacket,
  IConnectPacket,
  IDisconnectPacket,
  IPingreqPacket,
  IPubackPacket,
  IPubcompPacket,
  IPublishPacket,
  IPubrecPacket,
  IPubrelPacket,
  ISubscribePacket,
  IUnsubscribePacket,
} from 'mqtt-packet'
import type { ProtocolVersion, QoS } from '../types.ts'

/*
 * Packet shapes follow mqtt-packet's (so its encoder can take them for MQTT 5), narrowed to
 * what the broker relies on: payloads are always Buffers, message ids always present where
 * the protocol requires them.
 */

export interface Will {
  topic: string
  payload: Buffer
  qos: QoS
  retain: boolean
  properties?: NonNullable<IConnectPacket['will']>['properties']
}

export interface ConnectPacket extends Omit<IConnectPacket, 'will' | 'protocolVersion'> {
  protocolVersion: ProtocolVersion
  will?: Will
  /** Protocol level sent with the bridge bit (0x80, Mosquitto's `try_private`); 3.x only. */
  bridge?: boolean
}

export interface PublishPacket extends Omit<IPublishPacket, 'payload'> {
  payload: Buffer
}

export type AckPacket = (IPubackPacket | IPubrecPacket | IPubrelPacket | IPubcompPacket) & {
  messageId: number
}
export type SubscribePacket = ISubscribePacket & { messageId: number }
export type UnsubscribePacket = IUnsubscribePacket & { messageId: number }

/** Everything a client may send to the broker. */
export type InboundPacket =
  | ConnectPacket
  | PublishPacket
  | AckPacket
  | SubscribePacket
  | UnsubscribePacket
  | IPingreqPacket
  | IDisconnectPacket
  | IAuthPacket

export const PacketType = {
  connect: 1,
  connack: 2,
  publish: 3,
  puback: 4,
  pubrec: 5,
  pubrel: 6,
  pubcomp: 7,
  subscribe: 8,
  suback: 9,
  unsubscribe: 10,
  unsuback: 11,
  pingreq: 12,
  pingresp: 13,
  disconnect: 14,
  auth: 15,
} as const
