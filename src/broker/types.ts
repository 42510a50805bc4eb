import type { Logger } from 'pino'

export type QoS = 0 | 1 | 2

/** MQTT protocol level: 3 = MQTT 3.1 (MQIsdp), 4 = MQTT 3.1.1, 5 = MQTT 5.0. */
export type ProtocolVersion = 3 | 4 | 5

/** A message as the broker routes it. The payload is shared, never copied per subscriber. */
export interface Message {
  topic: string
  payload: Buffer
  qos: QoS
  retain: boolean
  /** Client id of the publisher when it was an MQTT client; undefined for broker.publish. */
  clientId?: string | undefined
}

/** What embedders hand to broker.publish. */
export interface PublishInput {
  topic: string
  payload?: string | Buffer | Uint8Array
  qos?: QoS
  retain?: boolean
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
  /** Messages queued per client beyond the in-flight window, online or offline (default 1000). */
  maxQueuedMessages?: number
  /** Seconds a new connection may take to send CONNECT (default 10). */
  connectTimeout?: number
  /** A pino logger; when absent one is created at `logLevel`. */
  logger?: Logger
  logLevel?: string
}
