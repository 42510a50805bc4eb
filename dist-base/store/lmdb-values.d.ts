import type { Message } from '../broker/types.ts';
import type { SessionMeta, StoredMessage } from './store.ts';
/**
 * What goes into LMDB values (msgpack, which keeps Buffers as binary). Copies are taken at
 * write time because the broker keeps mutating its objects (an outgoing entry gets its packet
 * id later); undefined fields are left out. The readers check shapes, so a damaged value is
 * reported instead of handed to the broker.
 */
export declare function messageValue(message: Message): Record<string, unknown>;
export declare function storedMessageValue(entry: StoredMessage): Record<string, unknown>;
export declare function sessionValue(meta: SessionMeta): Record<string, unknown>;
/** The script's name travels in the value, since a long one is hashed in the key. */
export declare function scriptStateValue(name: string, json: string): Record<string, unknown>;
export declare function readScriptState(value: unknown): {
    name: string;
    json: string;
};
/** Thrown by the readers; the store adds the path and key. */
export declare class BadValue extends Error {
}
export declare function readMessage(value: unknown): Message;
export declare function readStoredMessage(value: unknown): StoredMessage;
export declare function readSession(value: unknown): SessionMeta;
