import { ProtocolError } from './errors.ts'
import { Reason } from './reason-codes.ts'

/**
 * Checks the MQTT 5 properties mqtt-packet decoded from a client's packet. Its parser takes any
 * known property in any packet, turns a repeated one into an array, and gives -1 or null for a
 * value cut off by the end of the packet. Routed on, such a PUBLISH made mqtt-packet's encoder
 * throw while delivering to an MQTT 5 subscriber (found by `npm run fuzz -- --live`), so
 * these are refused here, as the spec asks [MQTT-2.2.2.2].
 */

type Kind = 'uint' | 'boolean' | 'string' | 'binary' | 'pairs'

const kinds: Readonly<Record<string, Kind>> = {
  sessionExpiryInterval: 'uint',
  willDelayInterval: 'uint',
  receiveMaximum: 'uint',
  maximumPacketSize: 'uint',
  topicAliasMaximum: 'uint',
  requestResponseInformation: 'boolean',
  requestProblemInformation: 'boolean',
  userProperties: 'pairs',
  authenticationMethod: 'string',
  authenticationData: 'binary',
  payloadFormatIndicator: 'boolean',
  messageExpiryInterval: 'uint',
  contentType: 'string',
  responseTopic: 'string',
  correlationData: 'binary',
  reasonString: 'string',
  serverReference: 'string',
  topicAlias: 'uint',
  subscriptionIdentifier: 'uint',
}

const acks = ['reasonString', 'userProperties']

/** The properties each packet a client sends may carry (MQTT 5, section 3.x.2.2 of each). */
const allowed: Readonly<Record<string, readonly string[]>> = {
  connect: [
    'sessionExpiryInterval',
    'receiveMaximum',
    'maximumPacketSize',
    'topicAliasMaximum',
    'requestResponseInformation',
    'requestProblemInformation',
    'userProperties',
    'authenticationMethod',
    'authenticationData',
  ],
  will: [
    'willDelayInterval',
    'payloadFormatIndicator',
    'messageExpiryInterval',
    'contentType',
    'responseTopic',
    'correlationData',
    'userProperties',
  ],
  publish: [
    'payloadFormatIndicator',
    'messageExpiryInterval',
    'topicAlias',
    'responseTopic',
    'correlationData',
    'userProperties',
    'subscriptionIdentifier',
    'contentType',
  ],
  puback: acks,
  pubrec: acks,
  pubrel: acks,
  pubcomp: acks,
  subscribe: ['subscriptionIdentifier', 'userProperties'],
  unsubscribe: ['userProperties'],
  disconnect: ['sessionExpiryInterval', 'reasonString', 'userProperties', 'serverReference'],
  auth: ['authenticationMethod', 'authenticationData', 'reasonString', 'userProperties'],
}

/** Throws ProtocolError unless every property is allowed in `packet`, present once, and well-formed. */
export function checkProperties(packet: string, properties: object | undefined): void {
  if (properties === undefined) return
  const names = allowed[packet]
  for (const [name, value] of Object.entries(properties)) {
    if (names !== undefined && !names.includes(name)) {
      throw new ProtocolError(`${name} is not a ${packet.toUpperCase()} property`)
    }
    const kind = kinds[name]
    if (kind !== 'pairs' && Array.isArray(value)) {
      throw new ProtocolError(`${name} more than once in ${packet.toUpperCase()}`, Reason.protocolError)
    }
    if (kind !== undefined && !wellFormed(kind, value)) {
      throw new ProtocolError(`${name} cut off or malformed in ${packet.toUpperCase()}`)
    }
  }
}

function wellFormed(kind: Kind, value: unknown): boolean {
  switch (kind) {
    case 'uint':
      return Number.isInteger(value) && (value as number) >= 0
    case 'boolean':
      return typeof value === 'boolean'
    case 'string':
      return typeof value === 'string'
    case 'binary':
      return Buffer.isBuffer(value)
    case 'pairs':
      return (
        typeof value === 'object' &&
        value !== null &&
        Object.values(value).every(
          (v) => typeof v === 'string' || (Array.isArray(v) && v.every((s) => typeof s === 'string')),
        )
      )
  }
}
