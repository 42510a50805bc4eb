import type { Duplex } from 'node:stream';
import type { FlowSource } from './flow.ts';
import { type Will } from './protocol/packets.ts';
import type { Session, SessionOutlet } from './sessions.ts';
import type { ClientInfo, Message, ProtocolVersion, QoS, TrafficCounters } from './types.ts';
/**
 * A client's byte stream: a TCP socket, a TLS socket, or a WebSocket wrapped as a Duplex
 * (which has no address of its own, so the listener passes it along).
 */
export type ClientStream = Duplex & {
    remoteAddress?: string | undefined;
    remotePort?: number | undefined;
    setNoDelay?: (noDelay?: boolean) => unknown;
};
/** What a connection reports to its broker. */
export interface ConnectionOwner {
    /** May throw: a ProtocolError (or any bug) closes this connection only. */
    handlePacket(connection: Connection, header: number, body: Buffer): void;
    protocolError(connection: Connection, error: unknown): void;
    connectionClosed(connection: Connection): void;
}
/** One TCP connection: framing in, batched writes out, keepalive bookkeeping. */
export declare class Connection implements SessionOutlet, FlowSource {
    readonly socket: ClientStream;
    private readonly owner;
    readonly listener: string;
    private readonly totals;
    state: 'connecting' | 'connected' | 'closed';
    version: ProtocolVersion;
    clientId: string;
    username: string | undefined;
    keepalive: number;
    cleanSession: boolean;
    session: Session | undefined;
    will: Will | undefined;
    /** Set once DISCONNECT arrived: the will is discarded [MQTT-3.14.4-3]. */
    disconnected: boolean;
    closeReason: string;
    lastActivity: number;
    readonly createdAt: number;
    /** ms since the epoch (a number: a Date per connection costs RSS on idle clients). */
    connectedAt: number | undefined;
    readonly address: string;
    readonly remotePort: number;
    /** MQTT 5 limits the client announced in CONNECT (3.x clients get the defaults). */
    receiveMaximum: number;
    maxPacketSize: number;
    topicAliasMaximum: number;
    /** MQTT 5 Request Problem Information: when false, no reason strings on acknowledgements. */
    problemInformation: boolean;
    /** Topic aliases the client set towards us, and the ones we set towards it. */
    /** Created on first use: most clients never use aliases, and idle connections should stay small. */
    inboundAliases: Map<number, string> | undefined;
    private outboundAliases;
    /** Acknowledgements waiting for the store to flush (see Persistence.acknowledge). */
    heldAcks: {
        packet: Buffer;
        after: number;
    }[] | undefined;
    bytesIn: number;
    bytesOut: number;
    packetsIn: number;
    packetsOut: number;
    /** Congested subscriber sessions this connection's publishing waits for (see flow.ts). */
    waitingOn: Set<Session> | undefined;
    private readonly framer;
    private corked;
    private readonly uncork;
    constructor(socket: ClientStream, owner: ConnectionOwner, maxPacketSize: number, listener?: string, totals?: TrafficCounters);
    get writable(): boolean;
    get info(): ClientInfo;
    /** The one place where framing and handler errors are caught, so none leaves the event loop. */
    private onData;
    /**
     * Stops reading this client (flow control): no packet after the current one is handled,
     * and the socket stops reading, so TCP back-pressure slows the publisher. For a WebSocket
     * the stream's buffer fills and ws pauses the socket under it.
     */
    pause(): void;
    /** Reads again: first the packets that waited, which may pause it again. */
    resume(): void;
    /** Writes are corked for the rest of this tick, so many small packets leave in one syscall. */
    write(data: Buffer): void;
    sendPublish(message: Message, qos: QoS, retain: boolean, dup: boolean, messageId?: number, subscriptionIds?: number[]): boolean;
    private sendPublish5;
    sendPubrel(messageId: number): void;
    /**
     * Encodes an MQTT 5 packet with a reason string when the client wants one (Request Problem
     * Information; `always` for CONNACK/DISCONNECT, which ignore it) and it still fits the
     * client's Maximum Packet Size [MQTT-3.4.2-2, 3.14.2-3]; without it otherwise.
     */
    withReason(encode: (reasonString?: string) => Buffer, text: string, always?: boolean): Buffer;
    /** Stops reading; flushes what was written (a CONNACK, say), then closes the socket. */
    close(reason: string): void;
}
