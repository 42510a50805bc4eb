import type { Logger } from 'pino'
import type { Broker } from '../broker/broker.ts'
import { isFailure } from '../broker/protocol/reason-codes.ts'
import { bridgeStateTopic } from '../broker/topic-rules.ts'
import type { MessageProperties, QoS } from '../broker/types.ts'
import type { BridgeConfig } from './config.ts'
import { TrustedClients } from './local-access.ts'
import { LocalLink, type LocalMessage } from './local-link.ts'
import { RemoteLink } from './remote-link.ts'
import { TopicMap } from './topic-map.ts'

/** How long closing waits for the remote to take the bridge's `0` state. */
const stopNoticeMs = 2000

/** A bridge's state for status pages and metrics. */
export interface BridgeStatus {
  name: string
  /** Connected to the remote broker. */
  connected: boolean
  /** The remote address in use (or being tried), `host:port`. */
  address: string
  /** Messages for the remote waiting in the bridge's local session (in flight or queued). */
  queued: number
}

/** The local topic of a bridge's connection state (retained `1` / `0`). */
export function localStateTopic(name: string): string {
  return bridgeStateTopic(name)
}

/**
 * One bridge: its session on this broker (the queue of what goes out), its client on the
 * remote broker, the topic map between them, and the connection-state notifications.
 *
 * A message going out is acknowledged to this broker only once the remote acknowledged it
 * (PUBACK, or PUBCOMP for QoS 2), so until then it stays in the bridge's persistent session:
 * nothing a local publisher got an acknowledgement for is lost while the remote is away or
 * this broker restarts (with a data directory). The other way, the remote gets its
 * acknowledgement once this broker acknowledged the message.
 */
export class Bridge {
  private readonly map: TopicMap
  private readonly logger: Logger
  private local: LocalLink | undefined
  private remote: RemoteLink | undefined
  private stopped = false
  /** The state last published on the local notification topic. */
  private notified: '0' | '1' | undefined
  /** Messages MQTT.js gave up on (its connection went); sent again on the next connection. */
  private retry: [LocalMessage, () => void][] = []

  constructor(
    private readonly broker: Broker,
    readonly config: BridgeConfig,
  ) {
    this.map = new TopicMap(config.topics)
    this.logger = broker.logger.child({ bridge: config.name })
  }

  /** Reads the TLS files, then connects both sides; resolves without waiting for the remote. */
  async start(): Promise<void> {
    const { config } = this
    const remoteState =
      config.notifications && !config.notificationsLocalOnly ? bridgeStateTopic(config.clientId) : undefined
    this.remote = await RemoteLink.create(config, {
      stateTopic: remoteState,
      onMessage: (packet, done) => this.inbound(packet, done),
      onConnect: (address, connack) => {
        this.logger.info(
          { address: `${address.host}:${address.port}`, sessionPresent: connack.sessionPresent },
          'bridge connected',
        )
        this.subscribeRemote()
        for (const [message, done] of this.retry.splice(0)) this.outbound(message, done)
        if (remoteState) this.remote?.client.publish(remoteState, '1', { qos: 1, retain: true })
        this.notifyLocal('1')
      },
      onClose: (address, error) => {
        if (this.stopped) return
        this.logger.warn(
          { address: `${address.host}:${address.port}`, err: error?.message },
          'bridge disconnected',
        )
        this.notifyLocal('0')
      },
    })
    this.notifyLocal('0')
    let password: Buffer | undefined
    if (config.localUsername === undefined)
      password = TrustedClients.of(this.broker).add(config.localClientId)
    else if (config.localPassword !== undefined) password = Buffer.from(config.localPassword)
    this.local = new LocalLink(this.broker, {
      clientId: config.localClientId,
      username: config.localUsername ?? (password ? 'bridge' : undefined),
      password,
      subscriptions: this.map.localSubscriptions(),
      logger: this.logger,
      onMessage: (message, done) => this.outbound(message, done),
    })
    this.local.start()
    this.remote.start()
  }

  status(): BridgeStatus {
    const address = this.remote?.address ?? this.config.addresses[0]
    const mine = this.broker.clientDetails().find((c) => c.clientId === this.config.localClientId)
    return {
      name: this.config.name,
      connected: this.remote?.connected ?? false,
      address: address ? `${address.host}:${address.port}` : '',
      queued: mine ? mine.inflight + mine.queued : 0,
    }
  }

  /** Tells both sides the bridge is going, then disconnects them; the local session stays. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    const remote = this.remote
    if (remote?.connected && this.config.notifications && !this.config.notificationsLocalOnly) {
      // A normal DISCONNECT does not fire the will, so the remote hears the `0` from us; not
      // waited for beyond a short bound, nor once the connection is gone.
      const topic = bridgeStateTopic(this.config.clientId)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, stopNoticeMs)
        function done(): void {
          clearTimeout(timer)
          remote?.client.off('close', done)
          resolve()
        }
        remote.client.once('close', done)
        remote.client.publish(topic, '0', { qos: 1, retain: true }, done)
      })
    }
    await remote?.close()
    this.notifyLocal('0')
    await this.local?.close()
    if (this.config.localUsername === undefined)
      TrustedClients.of(this.broker).remove(this.config.localClientId)
    this.logger.info('bridge stopped')
  }

  /** A message from this broker: on to the remote, acknowledged here once the remote has it. */
  private outbound(message: LocalMessage, done: () => void): void {
    const remote = this.remote
    const topic = this.map.toRemote(message.topic)
    if (!remote || topic === undefined || topic === '') {
      done()
      return
    }
    const properties = this.config.protocolVersion === 5 ? message.properties : undefined
    remote.client.publish(
      topic,
      message.payload,
      { qos: message.qos, retain: message.retain, ...(properties ? { properties } : {}) },
      (error) => {
        // MQTT.js fails an in-flight message only when its connection went for good; it goes
        // again on the next connection (at worst a duplicate, never a loss).
        if (!error) done()
        else if (!this.stopped) this.retry.push([message, done])
      },
    )
  }

  /** A message from the remote: published here, and only then acknowledged to the remote. */
  private inbound(
    packet: { topic: string; payload: Buffer; qos: QoS; retain: boolean; properties?: object },
    done: () => void,
  ): void {
    const topic = this.map.toLocal(packet.topic)
    const local = this.local
    if (!local || topic === undefined || topic === '') {
      done()
      return
    }
    local
      .publish({
        topic,
        payload: packet.payload,
        qos: packet.qos,
        retain: packet.retain,
        properties: forwardedProperties(packet.properties),
      })
      .then(done, (error: unknown) => {
        // Stopped: the remote keeps the message unacknowledged and sends it again later.
        this.logger.debug({ err: error, topic }, 'bridge: incoming message not published')
      })
  }

  private subscribeRemote(): void {
    const subscriptions = this.map.remoteSubscriptions()
    const client = this.remote?.client
    if (!client || subscriptions.length === 0) return
    const v5 = this.config.protocolVersion === 5
    // MQTT 5: No Local keeps what we send from coming back; Retain As Published keeps retain.
    const topics = Object.fromEntries(
      subscriptions.map(({ filter, qos }) => [filter, v5 ? { qos, nl: true, rap: true } : { qos }]),
    )
    client.subscribe(topics, (error, granted) => {
      if (error) {
        this.logger.error({ err: error.message }, 'bridge: remote subscribe failed')
        return
      }
      const refused = (granted ?? []).filter((g) => isFailure(g.qos)).map((g) => g.topic)
      if (refused.length > 0)
        this.logger.error({ topics: refused }, 'bridge: the remote refused subscriptions')
    })
  }

  private notifyLocal(state: '0' | '1'): void {
    // Every failed reconnect attempt closes again; the topic follows the connection's state,
    // not the attempts (as Mosquitto's does).
    if (!this.config.notifications || state === this.notified) return
    this.notified = state
    this.broker
      .publish({ topic: localStateTopic(this.config.name), payload: state, qos: 1, retain: true })
      .catch((error: unknown) => this.logger.warn({ err: error }, 'bridge: state notification failed'))
  }
}

/** The MQTT 5 properties of a remote message that travel on (never its topic alias). */
function forwardedProperties(p: object | undefined): MessageProperties | undefined {
  if (!p) return undefined
  const { topicAlias: _alias, subscriptionIdentifier: _ids, ...rest } = p as Record<string, unknown>
  return Object.keys(rest).length > 0 ? (rest as MessageProperties) : undefined
}
