/**
 * `$share` groups kept in JetStream. A group some persistent session is a member of is served
 * from the queue stream rather than from routing, so that a QoS 1/2 message for it survives
 * the nodes: its publisher's PUBACK waits until the group's copy is stored, and the copy stays
 * until one of the group's nodes gave it to a member.
 *
 * - The publishing node keeps one copy per such group that a QoS 1/2 message matches
 *   (SessionMessages.routed), and names the groups in the routing envelope, so the group's
 *   queue subscriptions skip that message (shared-queues.ts): it comes from here instead.
 * - Every node with members of a group pulls from the group's durable consumer (`follow`),
 *   and gives each copy to one member as a routed message would be given
 *   (FabricInlet.deliverShared). A persistent member keeps it as a copy of its own session
 *   first (SessionMessages.claimShared), and the group's copy is deleted once that is stored;
 *   for a clean member, or one that takes it at QoS 0, it is deleted at once.
 * - A node that dies holding a copy it did not answer: the consumer gives it to a node again
 *   after SHARE_ACK_WAIT_MS. No node with members: the copies wait for one.
 * - Groups whose members are all clean sessions stay on routing alone (at most once, as a
 *   clean session's messages are elsewhere in the cluster).
 */
import type { Logger } from 'pino'
import type { FabricInlet } from '../broker/types.ts'
import type { SessionMessages } from './session-messages.ts'
import type { SessionQueue, SharedCopy } from './session-queue.ts'
import { shareId } from './subjects.ts'

/** How long a copy no member here could take waits before the consumer offers it again. */
const REFUSED_DELAY_MS = 1000
/** How long a consumer that could not be started waits before it is tried again. */
const RETRY_MS = 2000

interface Following {
  stop: (() => void) | undefined
  ended: boolean
}

export class SharedCopies {
  private inlet: FabricInlet | undefined
  private readonly following = new Map<string, Following>()
  private stopped = false

  constructor(
    private readonly queue: SessionQueue,
    private readonly messages: SessionMessages,
    private readonly logger: Logger,
  ) {}

  connect(inlet: FabricInlet): void {
    this.inlet = inlet
  }

  /** This node has members of the group (`present`), or lost its last one. */
  interest(group: string, filter: string, present: boolean): void {
    const key = `${group}\u0000${filter}`
    const current = this.following.get(key)
    if (!present) {
      if (current === undefined) return
      this.following.delete(key)
      current.ended = true
      current.stop?.()
      return
    }
    if (current !== undefined || this.stopped) return
    const following: Following = { stop: undefined, ended: false }
    this.following.set(key, following)
    this.start(group, filter, following)
  }

  private start(group: string, filter: string, following: Following): void {
    this.queue
      .followShare(shareId(group, filter), (copy) => this.take(group, filter, copy))
      .then(
        (stop) => {
          if (following.ended) stop()
          else following.stop = stop
        },
        (error: unknown) => {
          if (following.ended) return
          this.logger.warn(
            { err: error, group, filter },
            "cluster: could not follow a shared group's kept messages; retrying",
          )
          setTimeout(() => {
            if (!following.ended) this.start(group, filter, following)
          }, RETRY_MS).unref()
        },
      )
  }

  private take(group: string, filter: string, copy: SharedCopy): void {
    const inlet = this.inlet
    if (inlet === undefined || this.stopped) {
      copy.refused(REFUSED_DELAY_MS)
      return
    }
    this.messages.offerShared(copy)
    let delivered = false
    try {
      delivered = inlet.deliverShared(group, filter, copy.message)
    } catch (error) {
      // Thrown out of the consumer's callback it would stop the consumer: offered again instead.
      this.logger.warn({ err: error, group }, "cluster: delivering a shared group's kept message failed")
    }
    if (delivered) {
      this.messages.settleShared(copy)
      return
    }
    // No member here any more (the last one left meanwhile): another node's, later.
    this.messages.withdrawShared(copy)
    copy.refused(REFUSED_DELAY_MS)
  }

  stop(): void {
    this.stopped = true
    for (const following of this.following.values()) {
      following.ended = true
      following.stop?.()
    }
    this.following.clear()
  }
}
