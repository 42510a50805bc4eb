import type { Logger } from 'pino'
import type { Connection } from './connection.ts'
import type { Session } from './sessions.ts'
import type { Subscription } from './subscription.ts'
import type { AuthResult, ClientClaims, ClientIdentity, Credentials, Message } from './types.ts'

/**
 * The view of the broker its packet handlers (src/broker/handlers) get: only what they use.
 * Each member is implemented by one part of the broker (connections.ts, session-lifecycle.ts,
 * router.ts, access-gate.ts, persistence.ts) and handed over as it is, so a handler's call
 * costs no more than before the split.
 */
export interface BrokerCore {
  readonly logger: Logger
  readonly options: HandlerLimits
  readonly access: AccessChecks
  /** Sends an acknowledgement once the writes it vouches for are durable (persistence.ts). */
  readonly acks: { acknowledge(connection: Connection, packet: Buffer): void }
  readonly clients: ClientRegistry
  readonly sessions: SessionOpener
  readonly router: ClientRouting
  /** A cluster's client-id claims (Broker.attachClaims), or undefined on a single node. */
  claims?: ClientClaims | undefined
}

/** The broker's limits a handler applies to what a client sends or is granted. */
export interface HandlerLimits {
  readonly maxPacketSize: number
  readonly receiveMaximum: number
  readonly topicAliasMaximum: number
  readonly maxKeepalive: number
}

/** Who may connect, publish, subscribe and receive, under the hooks in force now. */
export interface AccessChecks {
  authenticate(credentials: Credentials): AuthResult
  mayPublish(client: ClientIdentity, topic: string): boolean
  maySubscribe(client: ClientIdentity, filter: string): boolean
  mayRead(client: ClientIdentity, topic: string): boolean
}

/** The connected clients by client id. */
export interface ClientRegistry {
  connected(clientId: string): Connection | undefined
  /** A CONNECT was accepted: the connection now holds its client id. */
  register(connection: Connection): void
  /** Tells `clientConnect` listeners, once CONNACK is written and the session resumed. */
  announce(connection: Connection): void
  /**
   * Takes a connection out of service, once (its session and will are handed to the session
   * lifecycle). MQTT 5 clients are told why with `reasonCode`.
   */
  drop(connection: Connection, reason: string, reasonCode?: number): void
}

export interface SessionOpener {
  /**
   * Finds or creates the session for a CONNECT; Clean Start replaces a stored one.
   * `present`: an existing session was resumed.
   */
  open(clientId: string, cleanStart: boolean, expiryInterval: number): { session: Session; present: boolean }
}

/** Routing as a client's packets reach it: the topic is checked by the handler first. */
export interface ClientRouting {
  /** `source`: the publishing connection, which flow control may hold back. */
  route(message: Message, source?: Connection): void
  /** Adds or replaces a subscription; returns whether the session already had one on this filter. */
  addSubscription(session: Session, filter: string, subscription: Subscription): boolean
  /** Returns whether the session had a subscription on this filter. */
  removeSubscription(session: Session, filter: string): boolean
  /** See Router.retainedReady: undefined, or when a cluster node's retained copy is current. */
  retainedReady(): Promise<void> | undefined
  /** Retained messages matching a subscription's filter. */
  retainedMatching(filter: string): Message[]
}
