import { Broker } from './broker/broker.ts';
import type { BrokerOptions } from './broker/types.ts';
import { type ListenerSpec } from './listeners/index.ts';
import { type ScriptingOptions } from './scripting/index.ts';
import type { Store } from './store/store.ts';
export { Broker } from './broker/broker.ts';
export type { BrokerEvents, BrokerOptions, BrokerStats, ClientDetails, ClientInfo, Message, MessageHandler, ProtocolVersion, PublishInput, QoS, SubscribeOptions, } from './broker/types.ts';
export type { Listener, ListenerSpec } from './listeners/index.ts';
export { listenersOf } from './listeners/index.ts';
export type { ScriptingHost, ScriptingOptions, ScriptLimitHit, ScriptLimitKind, ScriptState, ScriptStatus, ScriptThrottle, } from './scripting/index.ts';
export { DataDirError } from './store/errors.ts';
export { LmdbStore } from './store/lmdb.ts';
export { MemoryStore } from './store/memory.ts';
export type { SessionRecord, Store, StoredState } from './store/store.ts';
export type { WebDashboard, WebOptions } from './web/index.ts';
export { startWeb, webOf } from './web/index.ts';
export interface StartOptions extends BrokerOptions {
    /** Persistence backend; when given, `data` and `memory` are ignored and the caller closes it. */
    store?: Store;
    /**
     * Data directory for the durable store (created if missing). Unset: state is kept in memory
     * only; the CLI defaults it to ./tinymqtt-data.
     */
    data?: string | undefined;
    /** Keep everything in memory even when `data` is set (the CLI's --memory). */
    memory?: boolean | undefined;
    /** Script file or folder to load and watch, or the scripting host's full options. */
    scripts?: string | ScriptingOptions | undefined;
    /** Extra listeners beside `port`: plain TCP, TLS, WebSocket, WebSocket over TLS. */
    listeners?: readonly ListenerSpec[] | undefined;
    /** Mosquitto password file; with it, anonymous clients are refused. Re-read when it changes. */
    passwordFile?: string | undefined;
    /** Mosquitto ACL file, applied to PUBLISH, SUBSCRIBE and delivery. Re-read when it changes. */
    aclFile?: string | undefined;
    /** Serve the web dashboard on this HTTP port (0 picks a free one; read it back from webOf(broker).port). */
    http?: number | undefined;
}
/**
 * Starts a broker, and its scripting host when `scripts` is given; resolves once it is
 * listening and the scripts are loaded (the counterpart of mosq_broker_run).
 */
export declare function startBroker(options?: StartOptions): Promise<Broker>;
