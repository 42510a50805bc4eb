/**
 * The numbers the broker puts in (and reads from) the reason-code fields, one home per code:
 * MQTT 5's reason codes (§2.4), and the two MQTT 3.1.1 tables, the CONNACK return codes and the
 * SUBACK failure. The protocol and the broker's API both use them (AuthResult is a CONNACK code).
 */

/** MQTT 5 reason codes. Several codes share 0x00; each packet's name for it is listed. */
export const Reason = {
  /** PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK, CONNACK. */
  success: 0x00,
  /** DISCONNECT: a normal disconnection, which discards the will [MQTT-3.14.4-3]. */
  normalDisconnection: 0x00,
  /** UNSUBACK: the filter had no subscription (still answered [MQTT-3.10.4-5]). */
  noSubscriptionExisted: 0x11,
  unspecified: 0x80,
  malformedPacket: 0x81,
  protocolError: 0x82,
  unsupportedProtocolVersion: 0x84,
  clientIdentifierNotValid: 0x85,
  badUserNameOrPassword: 0x86,
  notAuthorized: 0x87,
  serverUnavailable: 0x88,
  serverShuttingDown: 0x8b,
  badAuthenticationMethod: 0x8c,
  keepAliveTimeout: 0x8d,
  sessionTakenOver: 0x8e,
  topicFilterInvalid: 0x8f,
  topicNameInvalid: 0x90,
  receiveMaximumExceeded: 0x93,
  topicAliasInvalid: 0x94,
  packetTooLarge: 0x95,
  quotaExceeded: 0x97,
  administrativeAction: 0x98,
  payloadFormatInvalid: 0x99,
} as const

export type ReasonCode = (typeof Reason)[keyof typeof Reason]

/** Where MQTT 5's failure codes start; below it a code reports some kind of success [MQTT-2.4]. */
const firstFailure = 0x80

/** Whether an MQTT 5 reason code (or a 3.1.1 SUBACK return code) reports a failure. */
export function isFailure(code: number): boolean {
  return code >= firstFailure
}

/** MQTT 3.1.1 CONNACK return codes (§3.2.2.3); MQTT 5 sends the Reason of the same name instead. */
export const ConnackCode = {
  accepted: 0,
  unacceptableProtocolVersion: 1,
  identifierRejected: 2,
  serverUnavailable: 3,
  badUserNameOrPassword: 4,
  notAuthorized: 5,
} as const

/** MQTT 3.1.1 SUBACK return code for a refused subscription (§3.9.3); MQTT 5 says why instead. */
export const SubackFailure = 0x80
