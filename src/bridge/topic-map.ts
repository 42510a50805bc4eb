import { topicMatches } from '../broker/access/topic-match.ts'
import type { QoS } from '../broker/types.ts'
import type { BridgeTopic } from './config.ts'

export interface BridgeSubscription {
  filter: string
  qos: QoS
}

/**
 * Mosquitto's topic remapping: an `out` topic subscribes locally to localPrefix+pattern and a
 * message leaves with its local prefix swapped for the remote one; `in` the other way round.
 * When several entries match a topic the first one wins, as in Mosquitto.
 */
export class TopicMap {
  constructor(private readonly topics: readonly BridgeTopic[]) {}

  /** What the bridge subscribes to on this broker (its `out` and `both` topics). */
  localSubscriptions(): BridgeSubscription[] {
    return this.subscriptions('out', (t) => t.localPrefix)
  }

  /** What the bridge subscribes to on the remote broker (its `in` and `both` topics). */
  remoteSubscriptions(): BridgeSubscription[] {
    return this.subscriptions('in', (t) => t.remotePrefix)
  }

  /** The remote topic for a local message, or undefined when no `out` entry matches. */
  toRemote(localTopic: string): string | undefined {
    return this.map(localTopic, 'out', 'localPrefix', 'remotePrefix')
  }

  /** The local topic for a remote message, or undefined when no `in` entry matches. */
  toLocal(remoteTopic: string): string | undefined {
    return this.map(remoteTopic, 'in', 'remotePrefix', 'localPrefix')
  }

  private subscriptions(direction: 'in' | 'out', prefix: (t: BridgeTopic) => string): BridgeSubscription[] {
    const byFilter = new Map<string, QoS>()
    for (const topic of this.topics) {
      if (topic.direction !== direction && topic.direction !== 'both') continue
      const filter = prefix(topic) + topic.pattern
      // The same filter twice is one subscription, at the higher QoS (as a broker grants it).
      byFilter.set(filter, Math.max(byFilter.get(filter) ?? 0, topic.qos) as QoS)
    }
    return [...byFilter].map(([filter, qos]) => ({ filter, qos }))
  }

  private map(
    topic: string,
    direction: 'in' | 'out',
    from: 'localPrefix' | 'remotePrefix',
    to: 'localPrefix' | 'remotePrefix',
  ): string | undefined {
    for (const entry of this.topics) {
      if (entry.direction !== direction && entry.direction !== 'both') continue
      const fromPrefix = entry[from]
      // An empty pattern maps exactly one topic: the prefixes are whole topic names.
      if (entry.pattern === '') {
        if (topic === fromPrefix) return entry[to]
        continue
      }
      if (!topic.startsWith(fromPrefix) || !topicMatches(fromPrefix + entry.pattern, topic)) continue
      return entry[to] + topic.slice(fromPrefix.length)
    }
    return undefined
  }
}
