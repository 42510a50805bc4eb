import type { DropReason } from './sessions.ts'
import type { BrokerCounts, TrafficCounters } from './types.ts'

/**
 * The broker's running totals, kept by the parts that see each event and read (as a copy)
 * through Broker.stats(). On the PUBLISH path counting is a field increment and nothing more:
 * a monitoring layer (src/ops: $SYS, Prometheus) reads these at its own pace.
 */
export class Counters implements TrafficCounters {
  messagesIn = 0
  messagesOut = 0
  bytesIn = 0
  bytesOut = 0
  packetsIn = 0
  packetsOut = 0
  /** CONNECTs accepted (CONNACK 0). */
  connects = 0
  /** CONNECTs refused for bad credentials or missing authorization (CONNACK 4 or 5). */
  authFailures = 0
  /** The most clients connected at once since start. */
  clientsMaximum = 0
  /** Offline sessions that reached their expiry and were discarded. */
  sessionsExpired = 0
  droppedQueueFull = 0
  droppedSlowConsumer = 0
  droppedTooLarge = 0
  /** Network connections accepted, by listener name (a handful of keys; counted per accept, not per packet). */
  private readonly accepted = new Map<string, number>()

  connectionAccepted(listener: string): void {
    this.accepted.set(listener, (this.accepted.get(listener) ?? 0) + 1)
  }

  clientRegistered(connected: number): void {
    this.connects++
    if (connected > this.clientsMaximum) this.clientsMaximum = connected
  }

  dropped(reason: DropReason): void {
    if (reason === 'queue full') this.droppedQueueFull++
    else if (reason === 'slow consumer') this.droppedSlowConsumer++
    else this.droppedTooLarge++
  }

  get droppedTotal(): number {
    return this.droppedQueueFull + this.droppedSlowConsumer + this.droppedTooLarge
  }

  /** A copy, so a reader can neither change the totals nor see them move under it. */
  snapshot(): BrokerCounts {
    return {
      messagesIn: this.messagesIn,
      messagesOut: this.messagesOut,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      packetsIn: this.packetsIn,
      packetsOut: this.packetsOut,
      connects: this.connects,
      connectionsAccepted: Object.fromEntries(this.accepted),
      authFailures: this.authFailures,
      clientsMaximum: this.clientsMaximum,
      sessionsExpired: this.sessionsExpired,
      messagesDropped: this.droppedTotal,
      messagesDroppedBy: {
        queueFull: this.droppedQueueFull,
        slowConsumer: this.droppedSlowConsumer,
        tooLarge: this.droppedTooLarge,
      },
    }
  }
}
