import type { Readable } from 'node:stream'
import mqttPacket, { type IConnectPacket, type Packet } from 'mqtt-packet'
import type { CertificateIdentities } from '../broker/access/certificate-identities.ts'
import { readVarint, type VarintValue } from '../broker/protocol/varint.ts'
import { setLongTimeout } from '../util/long-timer.ts'

/** Why a connection could not be given its certificate identity (it is then closed). */
export class IdentityError extends Error {}

export interface IdentityLimits {
  /** The largest CONNECT to buffer, as the broker's maximum packet size. */
  maxPacketSize: number
  /** How long the client may take to send CONNECT. */
  timeoutMs: number
}

/**
 * Mosquitto's `use_identity_as_username`: reads the client's CONNECT off `stream`, replaces its
 * user name with `username` (the certificate's CN) and its password with a token from
 * `identities`, and puts the rewritten packet back in front of the stream. The stream is left
 * paused, to be handed to the broker and resumed. Rejects (the caller closes the connection)
 * when the first packet is not a well-formed CONNECT, is too large, or does not come in time.
 *
 * This exists because the broker's Credentials carry only what CONNECT says; once the broker
 * takes an identity from its stream, the rewrite can go (see the README's access section).
 */
export function applyCertificateUsername(
  stream: Readable,
  username: string,
  identities: CertificateIdentities,
  limits: IdentityLimits,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let received = 0
    const finish = (error?: Error): void => {
      timer.cancel()
      stream.off('data', onData)
      stream.off('close', onClose)
      if (error) reject(error)
      else resolve()
    }
    const onClose = (): void => finish(new IdentityError('connection closed before CONNECT'))
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk)
      received += chunk.length
      const all = chunks.length === 1 ? chunk : Buffer.concat(chunks)
      const size = packetSize(all)
      if (size === undefined) {
        if (received > 5) finish(new IdentityError('malformed remaining length in the first packet'))
        return
      }
      if (size > limits.maxPacketSize) {
        finish(new IdentityError(`first packet of ${size} bytes exceeds the maximum packet size`))
        return
      }
      if (all.length < size) return
      stream.pause()
      try {
        const connect = parseConnect(all.subarray(0, size))
        const token = identities.issue(username)
        // The token is single use; a connection that never presents it must not leave it behind.
        stream.once('close', () => identities.revoke(token))
        const rewritten = mqttPacket.generate({ ...connect, username, password: token })
        stream.unshift(Buffer.concat([rewritten, all.subarray(size)]))
        finish()
      } catch (error) {
        finish(error instanceof Error ? error : new IdentityError(String(error)))
      }
    }
    // connectTimeout comes from the configuration and may exceed Node's timer limit.
    const timer = setLongTimeout(() => finish(new IdentityError('no CONNECT in time')), limits.timeoutMs)
    stream.on('data', onData)
    stream.on('close', onClose)
  })
}

const remaining: VarintValue = { value: 0 }

/** Total size of the packet at the start of `data`, once its fixed header is complete. */
function packetSize(data: Buffer): number | undefined {
  const bodyStart = readVarint(data, 1, data.length, remaining)
  return bodyStart < 0 ? undefined : bodyStart + remaining.value
}

function parseConnect(bytes: Buffer): IConnectPacket {
  let packet: Packet | undefined
  let failure: unknown
  const parser = mqttPacket.parser()
  parser.on('packet', (p: Packet) => {
    packet ??= p
  })
  parser.on('error', (error: unknown) => {
    failure = error
  })
  parser.parse(bytes)
  if (failure !== undefined || packet?.cmd !== 'connect') {
    throw new IdentityError('the first packet is not a valid CONNECT')
  }
  return packet
}
