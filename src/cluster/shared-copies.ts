/**
 * `$share` groups kept in JetStream. A group some persistent session is a member of is served
 * from the queue stream rather than from routing, so that a QoS 1/2 message for it survives
 * the nodes: its publisher's PUBACK waits until the group's copy is stored, and the copy stays
 * until one of the group's nodes gave it to a member.
 *
 * - The publishing node keeps one copy per such group that a QoS 1/2 message matches
 *   (SessionMessages.routed), and names the groups in the routing envelope, so the group's
 *   queue subscriptions skip that message (shared-queues.ts): it comes from here instead.
 * - Every node with a member of the group online pulls from the group's durable consumer
 *   (`check`), and gives each copy to one member as a routed message would be given
 *   (FabricInlet.deliverShared). A persistent member keeps it as a copy of its own session
 *   first (SessionMessages.claimShared), and the group's copy is deleted once that is stored;
 *   for a clean member, or one that takes it at QoS 0, it is deleted at once.
 * - A node that dies holding a copy it did not answer: the consumer gives it to a node again
 *   after SHARE_ACK_WAIT_MS. No member online anywhere: the copies wait for one.
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
/** How often each group is checked for a member online here (pulling starts or stops). */
const ONLINE_CHECK_MS = 1000

interface Following {
  group: string
  filter: string
  /** The group's shareId. */
  id: string
  /** Stops this node's pulling; undefined while not pulling (or while starting). */
  stop: (() => void) | undefined
  /** Pulling, or starting to. */
  pulling: boolean
  /**
   * Counts starts and pauses: a start that resolves after a later pause or start (the member
   * went offline and came back meanwhile) stops its own pulling instead of keeping it.
   */
  run: number
  /** A failure to start was logged as a warning since the last start (the next ones go to debug). */
  warned: boolean
}

export class SharedCopies {
  private inlet: FabricInlet | undefined
  private readonly following = new Map<string, Following>()
  private readonly timer: NodeJS.Timeout
  private stopped = false

  constructor(
    private readonly queue: SessionQueue,
    private readonly messages: SessionMessages,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => {
      for (const following of this.following.values()) this.check(following)
    }, ONLINE_CHECK_MS)
    this.timer.unref()
  }

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
      this.pause(current)
      return
    }
    if (current !== undefined || this.stopped) return
    const following: Following = {
      group,
      filter,
      id: shareId(group, filter),
      stop: undefined,
      pulling: false,
      run: 0,
      warned: false,
    }
    this.following.set(key, following)
    this.check(following)
  }

  /**
   * Pulls the group's copies only while a member here has its client connected, as one node
   * gives a group's message to an offline persistent member only when none is online: a node
   * whose members are all offline leaves the copies to the nodes with online ones, or, when no
   * node has one, to the first member that connects.
   */
  private check(following: Following): void {
    const online = this.inlet?.sharedMemberOnline(following.group, following.filter) === true
    if (online && !following.pulling && !this.stopped) this.start(following)
    else if (!online && following.pulling) this.pause(following)
  }

  private pause(following: Following): void {
    following.pulling = false
    following.run++
    following.stop?.()
    following.stop = undefined
  }

  private start(following: Following): void {
    following.pulling = true
    const run = ++following.run
    const { group, filter } = following
    // A pause (also on removal and at stop) moves `run` on, so only the latest start is kept.
    this.queue
      .followShare(following.id, (copy) => this.take(following, copy))
      .then(
        (stop) => {
          if (following.run !== run) return stop()
          following.stop = stop
          following.warned = false
        },
        (error: unknown) => {
          if (following.run !== run) return
          following.pulling = false
          // Tried again at every check: while NATS is away, a warning once, not every second.
          this.logger[following.warned ? 'debug' : 'warn'](
            { err: error, group, filter },
            "cluster: could not follow a shared group's kept messages; retrying",
          )
          following.warned = true
        },
      )
  }

  private take(following: Following, copy: SharedCopy): void {
    const { group, filter } = following
    const inlet = this.inlet
    if (inlet === undefined || this.stopped) {
      copy.refused(REFUSED_DELAY_MS)
      return
    }
    // The last member here online went since the last check: not given to an offline one.
    // Refused rather than pausing here: what the server already sent on would wait out the
    // ack wait; the next check pauses.
    if (!inlet.sharedMemberOnline(group, filter)) {
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
    clearInterval(this.timer)
    for (const following of this.following.values()) this.pause(following)
    this.following.clear()
  }
}
