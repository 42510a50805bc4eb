import type { Message } from './types.ts'

/** When a message with this Message Expiry Interval (seconds) expires; undefined = never. */
export function expiryFrom(interval: number | undefined): number | undefined {
  return interval === undefined ? undefined : Date.now() + interval * 1000
}

/** Whether a message's expiry has passed: it is then neither delivered nor sent as retained. */
export function isExpired(message: Message, now: number): boolean {
  return message.expiresAt !== undefined && message.expiresAt <= now
}
