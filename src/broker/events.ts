import type { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { BrokerEvents } from './types.ts'

/** Emits a broker event; a listener that throws is logged and never breaks routing or a client. */
export function notify<K extends keyof BrokerEvents>(
  events: EventEmitter<BrokerEvents>,
  logger: Logger,
  event: K,
  ...args: BrokerEvents[K]
): void {
  try {
    ;(events.emit as (event: K, ...args: BrokerEvents[K]) => boolean).call(events, event, ...args)
  } catch (error) {
    logger.error({ err: error, event }, 'broker event listener threw')
  }
}
