import type { Broker } from '../broker/broker.ts'
import { ConnackCode } from '../broker/protocol/reason-codes.ts'

/**
 * The dashboard asks for the broker's own credentials (HTTP Basic) whenever MQTT clients need
 * them: a single user is set, or access control (a password file) authenticates clients.
 */
export function authRequired(broker: Broker): boolean {
  return broker.auth.username !== undefined || broker.access?.authenticate !== undefined
}

/** Checks an Authorization header against the broker's user check; true when it may pass. */
export function checkBasicAuth(broker: Broker, header: string | undefined, address: string): boolean {
  if (!authRequired(broker)) return true
  if (header === undefined || !/^basic /i.test(header)) return false
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return false
  const credentials = {
    clientId: 'tinymqtt-dashboard',
    username: decoded.slice(0, colon),
    password: Buffer.from(decoded.slice(colon + 1)),
    address,
  }
  const result = broker.access?.authenticate
    ? broker.access.authenticate(credentials)
    : broker.auth.check(credentials)
  return result === ConnackCode.accepted
}
