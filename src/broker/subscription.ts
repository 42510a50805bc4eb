import type { QoS } from './types.ts'

/**
 * What a client asked for on one filter, with the MQTT 5 subscription options. A plain record
 * in its own module so the store can describe stored sessions without importing the broker.
 */
export interface Subscription {
  qos: QoS
  /** MQTT 5: don't send the client its own publications. */
  noLocal?: boolean
  /** MQTT 5: keep the retain flag as published on normal delivery. */
  retainAsPublished?: boolean
  /** MQTT 5: 0 send retained on subscribe, 1 only for a new subscription, 2 never. */
  retainHandling?: 0 | 1 | 2
  /** MQTT 5 Subscription Identifier, echoed on every message this subscription delivers. */
  identifier?: number
}

/** Whether two subscriptions to the same filter have the same options (every field of Subscription). */
export function sameSubscription(a: Subscription, b: Subscription): boolean {
  return (
    a.qos === b.qos &&
    a.noLocal === b.noLocal &&
    a.retainAsPublished === b.retainAsPublished &&
    a.retainHandling === b.retainHandling &&
    a.identifier === b.identifier
  )
}
