import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Store } from '../store/store.ts';
import { SingleUserAuth } from './auth.ts';
import { type ClientStream, Connection, type ConnectionOwner } from './connection.ts';
import { FlowControl } from './flow.ts';
import { type LastValue } from './last-values.ts';
import { Persistence } from './persistence.ts';
import { RetainedTree } from './retained.ts';
import { Session, type Subscription } from './sessions.ts';
import type { AccessControl, BrokerEvents, BrokerOptions, BrokerStats, ClientDetails, ClientInfo, Message, MessageHandler, PublishInput, SubscribeOptions } from './types.ts';
interface ResolvedOptions {
    port: number;
    host: string;
    maxPacketSize: number;
    maxInflight: number;
    maxQueuedMessages: number;
    receiveMaximum: number;
    topicAliasMaximum: number;
    maxKeepalive: number;
    connectTimeout: number;
    maxConnections: number;
    stallTimeout: number;
    lastValues: number | undefined;
}
/**
 * The broker: listener, connections, sessions and routing, and the embedding API
 * (publish / subscribe / events) that the scripting host and embedders build on.
 */
export declare class Broker extends EventEmitter<BrokerEvents> implements ConnectionOwner {
    readonly logger: Logger;
    readonly auth: SingleUserAuth;
    /** Access control hooks; replace at run time with setAccessControl. */
    access: AccessControl | undefined;
    readonly retained: RetainedTree;
    /** Connected clients by client id. */
    readonly clients: Map<string, Connection>;
    readonly sessions: Map<string, Session>;
    readonly options: ResolvedOptions;
    readonly startedAt: Date;
    /** Traffic totals since start; read through stats(). */
    private readonly totals;
    private server;
    private readonly connections;
    private readonly tree;
    private readonly store;
    /** Every change to durable state, and the acknowledgements that wait for it. */
    readonly persistence: Persistence;
    /** Holds publishing connections back while subscribers they feed are congested. */
    readonly flow: FlowControl;
    /** QoS 1/2 messages dropped at a queue limit, and QoS 0 ones shed (see onDrop). */
    private dropped;
    private readonly ownsStore;
    private sweepTimer;
    private routing;
    private readonly backlog;
    private epoch;
    private readonly targets;
    private readonly sharedGroups;
    private readonly closeHooks;
    private state;
    private closing;
    /**
     * The `message` listeners (once-wrappers included), re-read after one is added or removed:
     * calling them from this array costs a few ns a message where `emit` with its argument
     * array and a listenerCount check cost about 90 ns (a scripts/bench-web.ts profile, 1M messages).
     */
    private messageListeners;
    private messageListenersStale;
    /** The last message of each topic, while the cache is on (see useLastValues). */
    private lastValueCache;
    /** `ownsStore`: close the given store when the broker closes, after its last writes. */
    constructor(options?: BrokerOptions & {
        store?: Store | undefined;
        ownsStore?: boolean;
    });
    /** The bound MQTT port (after start). */
    get port(): number;
    /** Loads stored state and starts listening. */
    start(): Promise<void>;
    /** Moves the MQTT listener to another port; connected clients stay. Rejects (keeping the old listener) when the port can't be bound. */
    listen(port: number): Promise<number>;
    /** Sets the single user for new connections (OpenBeken's ms_user / ms_pass). */
    setCredentials(user: string | undefined, pass: string | undefined): void;
    setAccessControl(access: AccessControl | undefined): void;
    /** Whether access control lets this session receive a message on the topic. */
    mayRead(session: Session, topic: string): boolean;
    /** Publishes as the broker itself. A publish made while routing is queued and delivered after it. */
    publish(input: PublishInput): Promise<void>;
    /**
     * Subscribes an in-process handler, like an MQTT client would: wildcards, the `$` rule, and
     * matching retained messages delivered (synchronously, retain set) before this returns.
     */
    subscribe(filter: string, handler: MessageHandler, options?: SubscribeOptions): () => void;
    /**
     * The last message published on exactly this topic since the start (by a client, a script
     * or broker.publish, retained or not), or the retained message loaded at start; undefined
     * while the cache is off, or when the topic was dropped from it (least recently published first).
     */
    lastValue(topic: string): LastValue | undefined;
    /**
     * Turns the last-value cache on at its default size, unless the `lastValues` option decided
     * already. The scripting host calls this for ms_get; without scripts routing pays nothing.
     */
    useLastValues(): void;
    /** Every script's remembered state (`persist`, as JSON) by script file name, from the store. */
    loadScriptStates(): Promise<Map<string, string>>;
    /** Stores a script's remembered state (undefined deletes it); it outlives the script's file. */
    putScriptState(name: string, json: string | undefined): void;
    private seedLastValues;
    /**
     * Runs `hook` first when the broker closes, before clients are dropped (latest added runs
     * first). Add-ons that live beside the broker — scripts, extra listeners, the dashboard —
     * stop through this, so `broker.close()` stays the one way to shut everything down.
     */
    addCloseHook(hook: () => Promise<void>): void;
    /** The connected clients. */
    clientList(): ClientInfo[];
    /** The connected clients with traffic counters and subscriptions. */
    clientDetails(): ClientDetails[];
    /** Closes a client's connection as if it had gone away (its will is published). Returns false when not connected. */
    disconnectClient(clientId: string, reason?: string): boolean;
    /** Retained messages matching a filter (default: all but `$` topics). */
    retainedMessages(filter?: string): Message[];
    /** Messages routed since start, as in stats(), without stats()' read of the process's memory. */
    get messagesRouted(): number;
    stats(): BrokerStats;
    close(): Promise<void>;
    private shutdown;
    /** Emits an event; a listener that throws is logged and never breaks routing or a client. */
    notify<K extends keyof BrokerEvents>(event: K, ...args: BrokerEvents[K]): void;
    handlePacket(connection: Connection, header: number, body: Buffer): void;
    protocolError(connection: Connection, error: unknown): void;
    connectionClosed(connection: Connection): void;
    /**
     * Takes a connection out of service, once: its session is detached (or discarded when it
     * ends with the connection), its will published or scheduled unless it said DISCONNECT,
     * and the socket closed. MQTT 5 clients are told why with `reasonCode`.
     */
    dropConnection(connection: Connection, reason: string, reasonCode?: number): void;
    /**
     * Finds or creates the session for a CONNECT. Clean Start (clean session) replaces any
     * stored one; a resumed session's pending will and expiry are cancelled [MQTT-3.1.3-9].
     */
    openSession(clientId: string, cleanStart: boolean, expiryInterval: number): {
        session: Session;
        present: boolean;
    };
    /** A session that outlives its connection is written to the store, and journals its changes. */
    private makePersistent;
    /** Adds or replaces a subscription; returns whether the session already had one on this filter. */
    addSubscription(session: Session, filter: string, subscription: Subscription): boolean;
    /** Puts a session's subscription into the tree (or its shared group). */
    private index;
    /** Returns whether the session had a subscription on this filter. */
    removeSubscription(session: Session, filter: string): boolean;
    private publishWill;
    /** MQTT 5 Will Delay: the will goes out at the earlier of the delay and the session's end. */
    private scheduleWill;
    private scheduleExpiry;
    /**
     * Routes a message to every matching subscriber, once per subscriber at the highest QoS
     * granted among its matching filters. Not re-entrant: a message published while routing
     * (by a handler, or a will) is delivered after the current one (Mosquitto's plugin queue).
     * `source`: the client connection it came from, which flow control may hold back.
     */
    route(message: Message, source?: Connection): void;
    private deliver;
    private callMessageListeners;
    private deliverShared;
    private callHandler;
    private newSession;
    private discardSession;
    private readonly onDrop;
    private bind;
    /**
     * Takes a new client stream from any listener (TCP here; TLS and WebSocket listeners hand
     * theirs in the same way). `listener` names the listener in logs and client info.
     */
    accept(socket: ClientStream, listener?: string): void;
    /** Closes connections that never sent CONNECT, or went silent past 1.5 × keepalive [MQTT-3.1.2-24]. */
    private sweep;
}
/** The view of the broker its packet handlers get. */
export type BrokerCore = Broker;
export {};
