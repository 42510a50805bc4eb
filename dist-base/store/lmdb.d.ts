import type { Message } from '../broker/types.ts';
import type { SessionMeta, Store, StoredMessage, StoredState } from './store.ts';
/** Bumped when the layout changes in a way an older tinymqtt could not read. */
export declare const formatVersion = 1;
export declare const dbFileName = "tinymqtt.mdb";
/**
 * The durable store: one LMDB file under the data directory. Writes are queued by lmdb-js
 * and committed on its writer thread, all the writes of one event-loop turn in one
 * transaction, so the event loop never waits for the disk; `flush()` resolves once the OS
 * reports the last commit synced.
 */
export declare class LmdbStore implements Store {
    readonly dir: string;
    private readonly db;
    private readonly unlock;
    readonly durable = true;
    /** The state read at open, handed to the first load() so start-up reads the file once. */
    private opened;
    private readonly clients;
    /** Settles when the latest queued write has committed; never rejects (see writeError). */
    private lastWrite;
    private lastRaw;
    private writeError;
    private closed;
    private constructor();
    /**
     * Opens (creating if needed) the store under `dir`. Throws a DataDirError naming the
     * directory when it is locked by another broker, unreadable, damaged or of a newer format;
     * it never starts empty over a store it could not read.
     */
    static open(dir: string): Promise<LmdbStore>;
    load(): Promise<StoredState>;
    putRetained(message: Message): void;
    putSession(meta: SessionMeta): void;
    deleteSession(clientId: string): void;
    putMessage(clientId: string, message: StoredMessage): void;
    deleteMessage(clientId: string, seq: number): void;
    putIncomingQos2(clientId: string, messageId: number): void;
    deleteIncomingQos2(clientId: string, messageId: number): void;
    /** A range read of the script keys: once, when the scripting host starts. */
    loadScriptStates(): Promise<Map<string, string>>;
    putScriptState(name: string, json: string | undefined): void;
    flush(): Promise<void>;
    close(): Promise<void>;
    private shutdown;
    /** Remembers the latest write's commit promise (writes of one turn share one). */
    private track;
    private checkFormat;
    /**
     * Reads the whole store and rebuilds the key index: one pass over the file, and when that
     * fails, a second pass key by key that finds the key of the value that cannot be decoded.
     */
    private read;
    private entriesOneByOne;
    /** `value` is the decoded value, or (key by key) a function that reads and decodes it. */
    private readEntries;
    private corrupt;
}
