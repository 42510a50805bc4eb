/** Settings every listener has. */
export interface ListenerCommon {
  /** TCP port (0 picks a free one; read it back from the listener's `port`). */
  port: number
  /** Bind address (default: the broker's `host`). */
  host?: string | undefined
  /** Connections held open at once on this listener; more are refused at accept (default unlimited). */
  maxConnections?: number | undefined
}

/** Certificate files for TLS and WebSocket-over-TLS listeners (PEM paths). */
export interface TlsFiles {
  cert: string
  key: string
  /** CA bundle for client certificates. When set, clients must present one it signed. */
  ca?: string | undefined
  /** Ask for client certificates but admit clients without one (default false: required when `ca` is set). */
  certificateOptional?: boolean | undefined
  /** Mosquitto's use_identity_as_username: the client certificate's CN becomes the user name (needs `ca`). */
  useIdentityAsUsername?: boolean | undefined
}

export interface WebSocketSettings {
  /** Request path of the WebSocket endpoint (default /mqtt). */
  path?: string | undefined
}

export type ListenerSpec =
  | ({ type: 'tcp' } & ListenerCommon)
  | ({ type: 'tls' } & ListenerCommon & TlsFiles)
  | ({ type: 'ws' } & ListenerCommon & WebSocketSettings)
  | ({ type: 'wss' } & ListenerCommon & TlsFiles & WebSocketSettings)

export type ListenerType = ListenerSpec['type']

/** A running listener. */
export interface Listener {
  readonly type: ListenerType
  /** Name in logs and in the broker's client info, e.g. `tls:8883`. */
  readonly name: string
  /** The bound port. */
  readonly port: number
  /** Whether its server is still bound (false once closed, by close() or otherwise): health checks read it. */
  readonly listening: boolean
  /** Stops accepting; connections already handed to the broker are the broker's to close. */
  close(): Promise<void>
}
