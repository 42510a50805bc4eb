import type { SessionMeta, SessionRecord, StoredMessage } from '../store/store.ts';
import type { LongTimer } from '../util/long-timer.ts';
import type { FlowControl, FlowSource } from './flow.ts';
import type { Message, QoS } from './types.ts';
/** What a client asked for on one filter, with the MQTT 5 subscription options. */
export interface Subscription {
    qos: QoS;
    /** MQTT 5: don't send the client its own publications. */
    noLocal?: boolean;
    /** MQTT 5: keep the retain flag as published on normal delivery. */
    retainAsPublished?: boolean;
    /** MQTT 5: 0 send retained on subscribe, 1 only for a new subscription, 2 never. */
    retainHandling?: 0 | 1 | 2;
    /** MQTT 5 Subscription Identifier, echoed on every message this subscription delivers. */
    identifier?: number;
}
/**
 * An outgoing QoS 1/2 message: queued until there is room in the window, then in flight
 * with a packet id until acknowledged (`publish`: waiting for PUBACK/PUBREC; `pubrel`:
 * PUBREL sent, waiting for PUBCOMP). Its stored form is the same object.
 */
export interface Outgoing extends StoredMessage {
    messageId?: number;
    state?: 'publish' | 'pubrel';
}
/** A will waiting to be published; its expiry counts from publication, not from the disconnect. */
export interface PendingWill {
    message: Message;
    expiryInterval: number | undefined;
}
/** Where a persistent session writes its changes when the store is durable. */
export interface SessionJournal {
    putMessage(entry: Outgoing): void;
    deleteMessage(seq: number): void;
    putIncomingQos2(messageId: number): void;
    deleteIncomingQos2(messageId: number): void;
}
/** The session's view of its live connection: just enough to put packets on the wire. */
export interface SessionOutlet {
    /** False when the message was dropped because it exceeds the client's Maximum Packet Size. */
    sendPublish(message: Message, qos: QoS, retain: boolean, dup: boolean, messageId?: number, subscriptionIds?: number[]): boolean;
    sendPubrel(messageId: number): void;
    /** False when the socket is backed up: QoS 0 messages are dropped rather than buffered. */
    readonly writable: boolean;
    /** The client's Receive Maximum (MQTT 5; 65535 otherwise). */
    readonly receiveMaximum: number;
}
export interface SessionLimits {
    maxInflight: number;
    maxQueuedMessages: number;
}
export type DropReason = 'queue full' | 'slow consumer' | 'too large for the client';
/** Session Expiry Interval meaning "never" (MQTT 3.x clean session 0). */
export declare const neverExpires = 4294967295;
/**
 * One client's state across connections: subscriptions, the outgoing in-flight window and
 * queue, and the incoming QoS 2 packet ids not yet released. Outlives its connection unless
 * its expiry interval is 0 (MQTT 3.x clean session 1).
 */
export declare class Session {
    readonly clientId: string;
    private readonly limits;
    private readonly onDrop;
    private subscriptionMap;
    /** Insertion order is send order, which is the order a resumed session re-sends in. */
    private inflightMap;
    /** QoS 2 packet ids received and routed, not yet released by PUBREL [MQTT-4.3.3-2]. */
    private incomingQos2Set;
    /** Set while the session is persistent and the store durable. */
    journal: SessionJournal | undefined;
    outlet: SessionOutlet | undefined;
    /** The user name its client last connected with (for access checks while offline). */
    username: string | undefined;
    /** Seconds the session outlives its connection; 0 = ends with it, neverExpires = kept. */
    expiryInterval: number;
    /** When its client went (ms since the epoch), undefined while connected. */
    disconnectedAt: number | undefined;
    /** Pending timers while offline: session expiry and a delayed will. */
    expiryTimer: LongTimer | undefined;
    willTimer: LongTimer | undefined;
    pendingWill: PendingWill | undefined;
    /** Rate limit of the "message dropped" log line. */
    lastDropLog: number;
    dropsNotLogged: number;
    /** Routing scratch space: which routing pass last saw this session, and what it gathered. */
    routeEpoch: number;
    routeQos: QoS;
    routeRetain: boolean;
    routeIds: number[] | undefined;
    /** Flow control (flow.ts): the publishing connections held back by this session's queue. */
    waiters: Set<FlowSource> | undefined;
    flow: FlowControl | undefined;
    /** Acknowledged nothing for stallTimeout while congested: holds nobody back until it acks again. */
    stalled: boolean;
    /** PUBACK/PUBREC/PUBCOMP count: progress, as the stall check sees it. */
    acks: number;
    acksAtStall: number;
    /** When it last acknowledged, kept only while it holds publishers back (ms since the epoch). */
    lastAckAt: number;
    /**
     * Above this many queued messages a progressing subscriber holds back the connections
     * feeding it; they read again at the low-water mark. Half the queue limit leaves the other
     * half as headroom, so what publishers sent before they were held never meets the limit.
     */
    private readonly highWater;
    private readonly lowWater;
    private queue;
    private queueHead;
    private nextId;
    private nextSeq;
    /** In-flight messages still to be re-sent after a reconnect, held back by the window. */
    private resend;
    private window;
    constructor(clientId: string, expiryInterval: number, limits: SessionLimits, onDrop: (session: Session, message: Message, reason: DropReason) => void);
    get subscriptions(): ReadonlyMap<string, Subscription>;
    /** The subscriptions to change; only the broker does, keeping its subscription tree in step. */
    editSubscriptions(): Map<string, Subscription>;
    get inflight(): ReadonlyMap<number, Outgoing>;
    get incomingQos2(): ReadonlySet<number>;
    get queued(): number;
    /** Connected and acknowledging: its congestion holds publishers back rather than dropping. */
    get progressing(): boolean;
    /**
     * Hands a routed message to the client at min(published, granted) QoS [MQTT-3.8.4-6].
     * `holdable`: the publisher is a connection flow control can hold back. Returns true when
     * the message was queued above the high-water mark and that publisher should now wait.
     */
    deliver(message: Message, granted: QoS, retain: boolean, subscriptionIds?: number[], holdable?: boolean): boolean;
    /** Progress for the stall check (flow.ts). */
    private acknowledged;
    /** A QoS 2 PUBLISH was received and routed; its id is kept until PUBREL. */
    addIncomingQos2(messageId: number): void;
    releaseIncomingQos2(messageId: number): void;
    /** PUBACK (QoS 1) or PUBCOMP (QoS 2) completed an outgoing message. */
    complete(messageId: number, expected: 'publish' | 'pubrel'): boolean;
    /** PUBREC: the client has the QoS 2 message; answer PUBREL and wait for PUBCOMP. */
    received(messageId: number, failed?: boolean): boolean;
    /** A session got a connection (again): re-send the window with DUP, then the queue. */
    resume(outlet: SessionOutlet): void;
    /** Moves queued messages into the in-flight window while there is room; expired ones are dropped. */
    pump(): void;
    /** Puts back what a stored session had in flight and queued (the subscriptions go through the broker). */
    restore(record: SessionRecord): void;
    /** Every outgoing message, in flight first, then queued (for persistence and inspection). */
    outgoing(): Outgoing[];
    private send;
    private allocateId;
}
/** The stored form of a session without its messages. */
export declare function sessionMeta(session: Session): SessionMeta;
