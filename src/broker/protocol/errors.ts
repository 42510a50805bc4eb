import { Reason, type ReasonCode } from './reason-codes.ts'

/** A peer broke the protocol: the connection is closed, the reason logged at warn. */
export class ProtocolError extends Error {
  readonly reason: ReasonCode
  constructor(message: string, reason: ReasonCode = Reason.malformedPacket) {
    super(message)
    this.name = 'ProtocolError'
    this.reason = reason
  }
}
