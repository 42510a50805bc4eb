import type { Message } from '../broker/types.ts';
import type { SessionMeta, Store, StoredMessage, StoredState } from './store.ts';
/**
 * Keeps state in this process only. A broker closed and started again on the same
 * MemoryStore instance (an embedder restarting it) finds its retained messages and
 * persistent sessions again; nothing survives the process.
 */
export declare class MemoryStore implements Store {
    readonly durable = false;
    private readonly retained;
    private readonly sessions;
    private readonly scriptStates;
    load(): Promise<StoredState>;
    putRetained(message: Message): void;
    putSession(meta: SessionMeta): void;
    deleteSession(clientId: string): void;
    putMessage(clientId: string, message: StoredMessage): void;
    deleteMessage(clientId: string, seq: number): void;
    putIncomingQos2(clientId: string, messageId: number): void;
    deleteIncomingQos2(clientId: string, messageId: number): void;
    loadScriptStates(): Promise<Map<string, string>>;
    putScriptState(name: string, json: string | undefined): void;
    flush(): Promise<void>;
    close(): Promise<void>;
}
