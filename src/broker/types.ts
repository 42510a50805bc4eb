import type { Logger } from 'pino'

export type QoS = 0 | 1 | 2

/** MQTT protocol level: 3 = MQTT 3.1 (MQIsdp), 4 = MQTT 3.1.1, 5 = MQTT 5.0. */
export type ProtocolVersion = 3 | 4 | 5

export type UserProperties = Record<string, string | string[]>

/** MQTT 5 PUBLISH properties that travel with a message from publisher to subscribers. */
export interface MessageProperties {
  payloadFormatIndicator?: boolean
  /** Seconds the message stays deliverable, as the publisher set it. */
  messageExpiryInterval?: number
  contentType?: string
  responseTopic?: string
  correlationData?: Buffer
  userProperties?: UserProperties
}

/** A message as the broker routes it. The payload is shared, never copied per subscriber. */
export interface Message {
  topic: string
  payload: Buffer
  qos: QoS
  retain: boolean
  /** Client id of the publisher when it was an MQTT client; undefined for broker.publish. */
  clientId?: string | undefined
  properties?: MessageProperties | undefined
  /** When the message expires (ms since the epoch), from its Message Expiry Interval. */
  expiresAt?: number | undefined
}

/**
 * A link to other nodes that, with this one, act as one broker (src/cluster), attached with
 * broker.attachFabric. The broker tells it what to send out and what this node listens to; it
 * hands messages from the other nodes back through the FabricInlet it was given.
 */
export interface RemoteFabric {
  /**
   * Every message routed on this node (clients, broker.publish, wills), retained ones and
   * retained deletes included, but none that came in through the inlet. Called synchronously
   * while routing: it must not block, and should not throw (a throw is logged).
   */
  forward(message: Message): void
  /**
   * This node has its first subscriber on `filter` (present) or lost its last one. Shared
   * subscriptions count under their topic filter. Called for the filters already present when
   * the fabric is attached.
   */
  interest(filter: string, present: boolean): void
  /**
   * Resolves once everything forwarded so far has reached the other side (a NATS server's
   * PONG); rejects when it cannot tell (disconnected), and is then tried again a second later.
   * When given, the broker holds acknowledgements sent after a forwarded QoS 1/2 message
   * (PUBACK, PUBREC …) or after new interest (SUBACK) until it resolves, batched per
   * event-loop turn like a durable store's.
   */
  flush?(): Promise<void>
  /**
   * When given: resolves once this node's retained messages include every retained write the
   * cluster had stored when it was called (bounded by the fabric), so a subscription made on
   * this node right after another node acknowledged a retained publish gets that message.
   * The broker sends a new subscription's retained messages after it settles.
   */
  retainedReady?(): Promise<void>
  /**
   * When given, the fabric delivers shared subscriptions once per cluster: it hears of each
   * `$share` group this node has members of (and of its last member leaving, present false)
   * and hands each message it picks this node for to FabricInlet.deliverShared. The node then
   * never delivers to a shared group from its own routing.
   */
  sharedInterest?(group: string, filter: string, present: boolean): void
}

/** A connecting client's will as a cluster keeps it, to publish it should this node die. */
export interface ClaimedWill {
  topic: string
  payload: Buffer
  qos: QoS
  retain: boolean
  properties?: MessageProperties | undefined
  /** MQTT 5 Will Delay Interval in seconds (0 for 3.x). */
  delaySeconds: number
}

/**
 * Client ids unique across several nodes (src/cluster), attached with broker.attachClaims.
 * Before CONNACK the broker claims the client id for this node (the node holding it closes its
 * connection); the claim also keeps the client's will where other nodes find it. The broker
 * calls the release function it got back when the connection ends, after the will was
 * published or dropped here.
 */
export interface ClientClaims {
  /**
   * Resolves once this node holds the client id; `takenOver` is called when another node
   * claims it later (the broker then closes the connection as on a local takeover). A
   * rejection refuses the connection (Server unavailable). With `resumes` (the client resumes
   * its session), it also waits until this node knows the session as the node it left wrote it.
   */
  claim(
    clientId: string,
    will: ClaimedWill | undefined,
    takenOver: () => void,
    resumes?: boolean,
  ): Promise<() => void>
}

/** A persistent session as other nodes see it: what a node needs to resume it. */
export interface SharedSession {
  clientId: string
  /** Seconds the session outlives its connection. */
  expiryInterval: number
  subscriptions: Array<{
    filter: string
    qos: QoS
    noLocal?: boolean
    retainAsPublished?: boolean
    retainHandling?: 0 | 1 | 2
    identifier?: number
  }>
  /** When its client went (ms since the epoch); absent while connected. */
  disconnectedAt?: number | undefined
}

/**
 * Persistent sessions shared with other nodes (src/cluster), attached with
 * broker.attachSessionFabric. Called synchronously on the CONNECT, SUBSCRIBE and disconnect
 * paths: it must not block (writes go out in the background).
 */
export interface SessionFabric {
  /** A session for `clientId` that another node holds now (its client last connected there). */
  heldElsewhere(clientId: string): SharedSession | undefined
  /**
   * The cluster's record of `clientId`'s session wherever it was held last, this node
   * included: a node that restarted without a durable store resumes its own sessions from it.
   */
  record(clientId: string): SharedSession | undefined
  /**
   * When given: where a persistent session held here reports the QoS 1/2 messages it holds for
   * its client, so the cluster's durable copy of each is removed once the client has it; and
   * whence it learns, on every resume, what the cluster holds that this copy lacks.
   */
  messageLog?(clientId: string): SessionMessageLog
  /** Whether the cluster's record of `clientId`'s session names this node as its holder. */
  heldHere(clientId: string): boolean
  /** A session that outlives its connection was opened here, or its subscriptions or client changed. */
  changed(session: SharedSession): void
  /** This node's session ended (clean start, expiry, or it ended with its connection). */
  ended(clientId: string): void
}

/** How a SessionFabric tells the broker of changes made on other nodes (broker.attachSessionFabric). */
export interface SessionFabricInlet {
  /**
   * Another node took `clientId`'s session over or ended it. An offline copy here is dropped,
   * its delayed will with it: the will is the other node's business now (the client came
   * back there, or its session ended there).
   */
  changedElsewhere(clientId: string): void
  /**
   * This node may have missed messages routed to it (its link to the other nodes was down):
   * each connected session with a message log reads what the cluster kept for it, and gets
   * what it lacks after what it has queued. With `clientId`, that session alone (if connected).
   */
  missedMessages(clientId?: string): void
  /**
   * The node holding `session` died and this node takes it in: it is held here offline from now
   * on, with its subscriptions, what the cluster kept for it (within the queue limit) and its
   * expiry counted from `disconnectedAt`. A session held here already is left as it is.
   */
  adopt(session: SharedSession): void
}

/** A message the cluster kept for a session, as it is delivered to it. */
export interface BacklogMessage {
  message: Message
  /** The QoS it goes out at (the publisher's and the subscription's lower). */
  qos: 1 | 2
  retain: boolean
  /**
   * Set when the node the session left had it in flight to the client: its packet id, and
   * whether the client had it (PUBREC received, `pubrel`) or not yet (`publish`). It is sent
   * again under that id (PUBLISH with DUP, or PUBREL), as a node that kept the session would.
   */
  inflight?: { messageId: number; state: 'publish' | 'pubrel' } | undefined
  /** The MQTT 5 Subscription Identifiers of the session's subscriptions that match it. */
  subscriptionIds?: number[] | undefined
}

/** One message in flight to a session's client, as the session leaves its node. */
export interface InflightEntry {
  /** The session's entry number (SessionMessageLog.added). */
  seq: number
  messageId: number
  state: 'publish' | 'pubrel'
}

/**
 * One persistent session's QoS 1/2 messages as the cluster keeps them (SessionFabric.messageLog).
 * The session calls it synchronously; nothing in it may block.
 */
export interface SessionMessageLog {
  /**
   * A message entered the session as entry `seq`, delivered at `qos` with `retain` (called
   * while the message is routed). False: the session has this message already (read back from
   * the cluster and routed here too, or the reverse), and does not take it again.
   */
  added(seq: number, message: Message, qos: QoS, retain: boolean): boolean
  /** The cluster's name of entry `seq`, kept with it in a durable store; undefined if it has none. */
  keyOf(seq: number): string | undefined
  /**
   * Entries a session restored from a durable store, with the names keyOf gave them, before
   * anything else (the log is attached after the restore): their copies are not new to it.
   */
  restored(entries: { seq: number; key: string }[]): void
  /** Entry `seq` left the session: its client completed it, or it was dropped or expired. */
  removed(seq: number): void
  /**
   * Entry `seq` was dropped at the queue limit. The cluster's copy goes too, but only once
   * this node still holds the session a few seconds later: a copy of the session that another
   * node took over meanwhile (this node not knowing yet) must not delete what the new holder
   * reads.
   */
  dropped(seq: number): void
  /**
   * Entry `seq` (delivered at `qos`) is in flight to the client under `messageId`: sent
   * (`publish`), or received by it, a PUBREL owed (`pubrel`). Called as each step happens, so a
   * node that takes the session over after this one died sends it again under the same id.
   */
  inFlight(seq: number, messageId: number, state: 'publish' | 'pubrel', qos: QoS): void
  /**
   * The session's client went: what was in flight to it, for the node that resumes the
   * session next (before SessionFabric.changed writes the record that says it went).
   */
  leaving(inflight: InflightEntry[]): void
  /**
   * The messages the cluster holds for the session that this copy of it has not seen (it moved
   * here, its node died, or this node missed them), oldest first. Never rejects; bounded in time.
   * `moved`: the session's client left another node and came back here, so a message routed
   * just before this node took the session may reach the cluster's copy only after this read
   * (the log may read again later, through SessionFabricInlet.missedMessages).
   */
  missing(moved?: boolean): Promise<BacklogMessage[]>
}

/** How a RemoteFabric hands this node what came from the others. */
export interface FabricInlet {
  /**
   * Delivers a message from another node to this node's subscribers, `message` listeners and
   * last-value cache; it is not forwarded again, and its retain flag does not touch the
   * retained store (see retain).
   */
  deliver(message: Message): void
  /** Delivers a message to one member of this node's shared group (see RemoteFabric.sharedInterest). */
  deliverShared(group: string, filter: string, message: Message): boolean
  /** Whether a member of this node's shared group has its client connected. */
  sharedMemberOnline(group: string, filter: string): boolean
  /** Sets this node's copy of a retained message (an empty payload deletes it), without routing it. */
  retain(message: Message): void
  /** Every topic with a retained message on this node, `$` topics included. */
  retainedTopics(): string[]
  /** Stops forwarding and interest reports; the inlet stays usable for messages in flight. */
  detach(): void
}

/** What embedders hand to broker.publish. */
export interface PublishInput {
  topic: string
  payload?: string | Buffer | Uint8Array
  qos?: QoS
  retain?: boolean
  properties?: MessageProperties
}

/** An internal subscriber (embedder, scripting host, dashboard). Called synchronously during routing. */
export type MessageHandler = (msg: Message) => void

export interface SubscribeOptions {
  /** Granted QoS for the handler; only informational for internal handlers (default 2). */
  qos?: QoS
}

/** Read-only view of a connected client, passed with events. */
export interface ClientInfo {
  clientId: string
  address: string
  port: number
  protocolVersion: ProtocolVersion
  cleanSession: boolean
  keepalive: number
  username?: string | undefined
  connectedAt: Date
  /** Connected as a bridge (MQTT 3.x protocol level with bit 0x80, Mosquitto's `try_private`). */
  bridge: boolean
}

/** Who a client is, as access control sees it (also for sessions whose client is offline). */
export interface ClientIdentity {
  clientId: string
  username?: string | undefined
}

/** What a client presents in CONNECT, for authentication. */
export interface Credentials {
  clientId: string
  username?: string | undefined
  password?: Buffer | undefined
  address: string
}

/** CONNACK 0 (accepted), 4 (bad user name or password) or 5 (not authorized). */
export type AuthResult = 0 | 4 | 5

/**
 * Hooks that decide who may connect, publish, subscribe and receive. Each is optional;
 * a missing hook allows. Scripts and broker.publish/subscribe are trusted and bypass them.
 */
export interface AccessControl {
  /** Replaces the single-user check (which stays reachable as broker.auth.check). */
  authenticate?(credentials: Credentials): AuthResult
  canPublish?(client: ClientIdentity, topic: string): boolean
  canSubscribe?(client: ClientIdentity, filter: string): boolean
  /** Checked per delivery, so a filter granted with wildcards cannot read a denied topic. */
  canRead?(client: ClientIdentity, topic: string): boolean
}

/** Traffic totals since the broker started (all connections, including closed ones). */
export interface TrafficCounters {
  /** PUBLISH packets received from clients, plus broker.publish calls (scripts, $SYS) and wills. */
  messagesIn: number
  /** PUBLISH packets sent to clients. */
  messagesOut: number
  bytesIn: number
  bytesOut: number
  /** MQTT packets of every kind received from clients (Mosquitto's `messages/received`). */
  packetsIn: number
  /** MQTT packets of every kind sent to clients. */
  packetsOut: number
}

/** The broker's totals since start (src/broker/counters.ts), as copied into stats(). */
export interface BrokerCounts extends TrafficCounters {
  /** CONNECTs accepted. */
  connects: number
  /** Network connections accepted, by listener name (`mqtt` for the main TCP port). */
  connectionsAccepted: Record<string, number>
  /** CONNECTs refused for bad credentials or missing authorization. */
  authFailures: number
  /** The most clients connected at once. */
  clientsMaximum: number
  /** Offline sessions discarded at their expiry. */
  sessionsExpired: number
  /** Messages dropped since start: QoS 1/2 beyond a queue limit, QoS 0 shed for a client that does not read. */
  messagesDropped: number
  /** The same, by reason. */
  messagesDroppedBy: { queueFull: number; slowConsumer: number; tooLarge: number }
}

export interface BrokerStats extends BrokerCounts {
  startedAt: Date
  uptimeSeconds: number
  /** Open network connections, including ones that have not sent CONNECT yet. */
  connections: number
  /** Clients that completed CONNECT. */
  clients: number
  /** Sessions held, connected or not. */
  sessions: number
  subscriptions: number
  retained: number
  /** Messages held for sessions: in flight (awaiting acknowledgement) and queued. */
  storedMessages: number
  memory: { rss: number; heapUsed: number }
}

/** A connected client with its traffic and subscriptions (for dashboards). */
export interface ClientDetails extends ClientInfo {
  listener: string
  bytesIn: number
  bytesOut: number
  packetsIn: number
  packetsOut: number
  subscriptions: { filter: string; qos: QoS }[]
  /** Outgoing QoS 1/2 messages awaiting acknowledgement, and queued behind them. */
  inflight: number
  queued: number
}

/** A session the broker holds, connected or not (for tests and dashboards). */
export interface SessionInfo {
  clientId: string
  connected: boolean
  /** Seconds the session outlives its connection (0xffffffff: never expires). */
  expiryInterval: number
  /** When the offline session expires (ms since the epoch); undefined while connected or when it never does. */
  expiresAt: number | undefined
  /** When its delayed will goes out (ms since the epoch); undefined when no will is pending. */
  willAt: number | undefined
  /** Outgoing QoS 1/2 messages awaiting acknowledgement, and queued behind them. */
  inflight: number
  queued: number
}

export interface BrokerEvents {
  /** A client finished CONNECT and got CONNACK 0. */
  clientConnect: [client: ClientInfo]
  /** A connected client went away; `reason` says why (disconnect, takeover, keepalive, error, protocol). */
  clientDisconnect: [client: ClientInfo, reason: string]
  /** Every message routed by the broker, from clients and from broker.publish. */
  message: [msg: Message]
  /** The MQTT listener is bound (also after broker.listen moved it). */
  listening: [port: number]
  /** A commit of the durable store finished, after `seconds` (one per group commit, not per message). */
  storeCommit: [seconds: number]
}

export interface BrokerOptions {
  /** MQTT TCP port (default 1883; 0 picks a free port, read it back from broker.port). */
  port?: number
  /** Bind address (default 0.0.0.0). */
  host?: string
  /** The single user. When unset, anonymous clients are allowed. */
  user?: string | undefined
  pass?: string | undefined
  /** Largest packet accepted, in bytes including the fixed header (default 2,000,000). */
  maxPacketSize?: number
  /** Outgoing QoS 1/2 messages in flight per client (default 20). */
  maxInflight?: number
  /**
   * Messages queued per client beyond the in-flight window (default 1000). A connected,
   * acknowledging client's queue holds back the publishers feeding it from half this;
   * beyond it, messages for an offline or stalled client are dropped (README "Reliability").
   */
  maxQueuedMessages?: number
  /**
   * Seconds a congested subscriber may go without acknowledging anything before it stops
   * holding publishers back and its excess messages are dropped (default 10; 0 turns flow
   * control off: queues drop at maxQueuedMessages as for an offline client).
   */
  stallTimeout?: number
  /** MQTT 5: unacknowledged incoming QoS 1/2 messages a client may have (default 65535). */
  receiveMaximum?: number
  /** MQTT 5: topic aliases a client may use towards the broker (default 10). */
  topicAliasMaximum?: number
  /** MQTT 5: longest keepalive granted (seconds); larger or zero requests get Server Keep Alive. 0 = no cap (default). */
  maxKeepalive?: number
  /** Connections the MQTT TCP listener accepts at once; more are refused and logged (default 0: no limit). */
  maxConnections?: number
  /** Seconds a new connection may take to send CONNECT (default 10). */
  connectTimeout?: number
  /**
   * Topics kept in the last-value cache (`broker.lastValue`, a script's `ms_get`). Unset: the
   * cache is on, at 10,000 topics, only while scripts run; 0: off; n: on from the start.
   */
  lastValues?: number
  /** Access control hooks (password file, ACL …); default: the single user, everything allowed. */
  access?: AccessControl | undefined
  /** A pino logger; when absent one is created at `logLevel`. */
  logger?: Logger
  logLevel?: string
}
