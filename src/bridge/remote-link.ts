import { readFile } from 'node:fs/promises'
import { connect as tcpConnect } from 'node:net'
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls'
import { type IClientOptions, type IConnackPacket, MqttClient, type Packet } from 'mqtt'
import type { BridgeAddress, BridgeConfig, BridgeTlsSpec } from './config.ts'

/** What the remote client needs besides the bridge's config. */
export interface RemoteLinkOptions {
  /** Remote topic of the connection state, with its will (`0`); undefined: no remote notifications. */
  stateTopic: string | undefined
  /** MQTT.js handleMessage: call `done` once the message is safe here; the PUBACK/PUBCOMP waits. */
  onMessage(
    packet: { topic: string; payload: Buffer; qos: 0 | 1 | 2; retain: boolean; properties?: object },
    done: () => void,
  ): void
  onConnect(address: BridgeAddress, connack: IConnackPacket): void
  onClose(address: BridgeAddress, error: Error | undefined): void
}

/**
 * The remote side of a bridge: one MQTT.js client for the bridge's life, so its in-flight
 * messages (and their callbacks) carry over reconnects. Reconnecting is done here rather
 * than by MQTT.js, to try the addresses in turn and back off with jitter up to a cap, as
 * Mosquitto's restart_timeout does.
 */
export class RemoteLink {
  readonly client: MqttClient
  private addressIndex = 0
  private current: BridgeAddress
  private delayMs: number
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  private lastError: Error | undefined
  private wasConnected = false

  private constructor(
    private readonly config: BridgeConfig,
    private readonly tls: ConnectionOptions | undefined,
    private readonly options: RemoteLinkOptions,
  ) {
    const first = config.addresses[0]
    if (!first) throw new Error(`bridge "${config.name}": no address`)
    this.current = first
    this.delayMs = config.reconnectDelayMs
    const v5 = config.protocolVersion === 5
    const clientOptions: IClientOptions = {
      clientId: config.clientId,
      protocolVersion: config.protocolVersion,
      protocolId: config.protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
      clean: config.cleanSession,
      keepalive: config.keepalive,
      reconnectPeriod: 0,
      connectTimeout: 30_000,
      manualConnect: true,
      // Subscriptions are sent on every connect by the bridge itself.
      resubscribe: false,
      ...(config.username === undefined ? {} : { username: config.username }),
      ...(config.password === undefined ? {} : { password: config.password }),
      ...(v5 && !config.cleanSession ? { properties: { sessionExpiryInterval: 0xffff_ffff } } : {}),
      ...(options.stateTopic === undefined
        ? {}
        : { will: { topic: options.stateTopic, payload: Buffer.from('0'), qos: 1, retain: true } }),
    }
    this.client = new MqttClient(() => this.openStream(), clientOptions)
    this.client.handleMessage = (packet, callback) => {
      if (packet.cmd !== 'publish') {
        callback()
        return
      }
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload
      options.onMessage(
        {
          topic: packet.topic,
          payload,
          qos: packet.qos,
          retain: packet.retain,
          ...(packet.properties ? { properties: packet.properties } : {}),
        },
        () => callback(),
      )
    }
    if (config.protocolVersion !== 5 && config.tryPrivate) {
      // Mosquitto's try_private: protocol level | 0x80 marks a bridge, so the remote does not
      // send our own messages back and keeps their retain flag. MQTT.js has no option for it;
      // mqtt-packet writes the bit from the CONNECT packet's bridgeMode, set here before it goes.
      this.client.on('packetsend', (packet: Packet) => {
        if (packet.cmd === 'connect') Object.assign(packet, { bridgeMode: true })
      })
    }
    this.client.on('connect', (connack) => {
      this.wasConnected = true
      this.lastError = undefined
      this.delayMs = config.reconnectDelayMs
      options.onConnect(this.current, connack)
    })
    this.client.on('error', (error) => {
      this.lastError = error
    })
    this.client.on('close', () => this.onClose())
  }

  /** Reads the TLS files (a missing file rejects, naming it) and builds the link, not yet connected. */
  static async create(config: BridgeConfig, options: RemoteLinkOptions): Promise<RemoteLink> {
    const tls = config.tls ? await readTls(config.tls) : undefined
    return new RemoteLink(config, tls, options)
  }

  get address(): BridgeAddress {
    return this.current
  }

  get connected(): boolean {
    return this.client.connected
  }

  start(): void {
    this.client.connect()
  }

  /** Ends the connection (a normal DISCONNECT, so the will is not sent). */
  async close(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    const client = this.client
    if (!client.connected) {
      client.end(true)
      return
    }
    // MQTT.js may never call back when the socket dies meanwhile; its close ends the wait too.
    await new Promise<void>((resolve) => {
      client.once('close', () => resolve())
      client.end(false, {}, () => resolve())
    })
  }

  private openStream(): ReturnType<typeof tcpConnect> {
    const { host, port } = this.current
    if (!this.tls) return tcpConnect({ host, port })
    return tlsConnect({ ...this.tls, host, port, servername: this.tls.servername ?? sniName(host) })
  }

  private onClose(): void {
    const address = this.current
    const error = this.lastError
    this.lastError = undefined
    const hadConnection = this.wasConnected
    this.wasConnected = false
    this.options.onClose(address, error)
    if (this.stopped) return
    // After a lost connection start again from the first (main) address; after a failed
    // attempt try the next one.
    this.addressIndex = hadConnection ? 0 : (this.addressIndex + 1) % this.config.addresses.length
    this.current = this.config.addresses[this.addressIndex] ?? this.current
    const delay = this.nextDelay(hadConnection)
    this.timer = setTimeout(() => {
      if (this.stopped) return
      // The stores are passed back so in-flight messages are resent on the new connection.
      this.client.reconnect({
        incomingStore: this.client.incomingStore,
        outgoingStore: this.client.outgoingStore,
      })
    }, delay)
    this.timer.unref()
  }

  /**
   * "Decorrelated jitter" between the base delay and three times the last one, capped.
   * Moving to the next of several addresses goes at the base delay until all were tried.
   */
  private nextDelay(afterConnection: boolean): number {
    const { reconnectDelayMs: base, reconnectDelayMaxMs: cap } = this.config
    if (afterConnection || this.addressIndex !== 0) return base
    const next = Math.min(cap, base + Math.random() * (this.delayMs * 3 - base))
    this.delayMs = next
    return next
  }
}

async function readTls(spec: BridgeTlsSpec): Promise<ConnectionOptions> {
  const read = async (path: string | undefined, what: string): Promise<Buffer | undefined> => {
    if (path === undefined) return undefined
    try {
      return await readFile(path)
    } catch (error) {
      throw new Error(
        `cannot read bridge TLS ${what} ${path}: ${error instanceof Error ? error.message : String(error)}`,
      )
    }
  }
  const [ca, cert, key] = await Promise.all([
    read(spec.ca, 'CA file'),
    read(spec.cert, 'certificate'),
    read(spec.key, 'key'),
  ])
  return {
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    rejectUnauthorized: spec.rejectUnauthorized ?? true,
    ...(spec.servername === undefined ? {} : { servername: spec.servername }),
  }
}

/** SNI takes host names only, never IP addresses. */
function sniName(host: string): string | undefined {
  return /^[\d.]+$/.test(host) || host.includes(':') ? undefined : host
}
