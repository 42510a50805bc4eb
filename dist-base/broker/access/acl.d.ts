import type { ClientIdentity } from '../types.ts';
/** What an ACL line grants; `deny` takes precedence over any grant that also matches. */
export type AclAccess = 'read' | 'write' | 'readwrite' | 'deny';
/** What a client is trying to do: receive on a topic, publish to it, or subscribe to a filter. */
export type AclAction = 'read' | 'write' | 'subscribe';
export interface AclEntry {
    access: AclAccess;
    /** A topic filter; for patterns it still holds `%c` / `%u`. */
    filter: string;
    line: number;
}
/** A parsed Mosquitto `acl_file`. */
export interface AclRules {
    /** `topic` lines before any `user` line: they apply to clients without a user name. */
    anonymous: AclEntry[];
    /** `topic` lines by the `user` they follow. */
    users: Map<string, AclEntry[]>;
    /** `pattern` lines apply to every client, wherever they stand in the file. */
    patterns: AclEntry[];
}
export declare class AclSyntaxError extends Error {
}
/**
 * Parses Mosquitto's acl_file syntax: `user <name>`, `topic [read|write|readwrite|deny] <filter>`,
 * `pattern [read|write|readwrite|deny] <filter>` and `#` comments. The access word is optional
 * (readwrite); a filter may contain spaces, as in Mosquitto.
 */
export declare function parseAcl(text: string): AclRules;
/**
 * Mosquitto's order: the client's own entries (its user's, or the anonymous ones), deny first;
 * then the patterns, deny first; anything not granted is refused.
 */
export declare function aclAllows(rules: AclRules, client: ClientIdentity, action: AclAction, topic: string): boolean;
