import type { Logger } from 'pino';
import type { Store } from '../store/store.ts';
import type { Connection } from './connection.ts';
import { type Session, type SessionJournal } from './sessions.ts';
import type { Message } from './types.ts';
/**
 * The broker's side of the store: every change goes through here, and so do the
 * acknowledgements that promise durability (PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK).
 *
 * With a durable store, writes made during one event-loop turn are flushed together (group
 * commit) and an acknowledgement is released only once every write made before it is on
 * disk; a connection's acknowledgements keep their order. With an in-memory store nothing
 * is held back.
 */
export declare class Persistence {
    readonly store: Store;
    private readonly logger;
    private writes;
    private durableWrites;
    private flushing;
    private readonly waiting;
    constructor(store: Store, logger: Logger);
    get durable(): boolean;
    putRetained(message: Message): void;
    /** Stores the session's subscriptions and expiry (messages go through its journal). */
    putSession(session: Session): void;
    deleteSession(clientId: string): void;
    /** A persistent session's change log, when the store is durable. */
    journalFor(session: Session): SessionJournal | undefined;
    /** Writes a whole session; how an in-memory store learns of a session its client left. */
    snapshot(session: Session): void;
    /** Sends an acknowledgement once everything written so far is durable, in the connection's order. */
    acknowledge(connection: Connection, packet: Buffer): void;
    /** Resolves once everything written so far is durable. */
    flush(): Promise<void>;
    private touch;
    private schedule;
    private flushNow;
    private release;
}
