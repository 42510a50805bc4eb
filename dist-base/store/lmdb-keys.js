import { createHash } from 'node:crypto';
/**
 * Key layout of the LMDB store. Keys are binary; the first two bytes say what a key holds:
 *
 *   meta/format                      format version of the directory
 *   r/<topic>                        a retained message (R/<sha256> for topics too long for a key)
 *   s/<client>                       a persistent session's meta
 *   m/<client><seq: 8 bytes BE>      an outgoing message; byte order is seq order
 *   q/<client><id: 2 bytes BE>       an incoming QoS 2 id not yet released
 *   p/<script name>                  a script's remembered state (P/<sha256> for names too long)
 *
 * <client> is the client id's UTF-8 length (2 bytes) and bytes, or 0xffff and its sha256 when
 * it is too long: prefix-free, so one client's keys never run into another's.
 */
/** LMDB's default key limit is 1978 bytes; stay well below it. */
const maxInline = 1024;
const hashed = 0xffff;
export const formatKey = Buffer.from('meta/format');
/** The first byte of each kind of key (the second is always '/'). */
export const Kind = {
    retained: 0x72, // r
    retainedHashed: 0x52, // R
    session: 0x73, // s
    message: 0x6d, // m
    qos2: 0x71, // q
    scriptState: 0x70, // p
    scriptStateHashed: 0x50, // P
};
/** Every script state key lies in [p/, p0) or [P/, P0): '0' is the byte after '/'. */
export const scriptStateRanges = [Kind.scriptState, Kind.scriptStateHashed].map((kind) => ({
    start: Buffer.from([kind, 0x2f]),
    end: Buffer.from([kind, 0x30]),
}));
export function scriptStateKey(name) {
    const bytes = Buffer.from(name);
    if (bytes.length <= maxInline)
        return Buffer.concat([Buffer.from([Kind.scriptState, 0x2f]), bytes]);
    return Buffer.concat([Buffer.from([Kind.scriptStateHashed, 0x2f]), sha256(bytes)]);
}
export function retainedKey(topic) {
    const bytes = Buffer.from(topic);
    if (bytes.length <= maxInline)
        return Buffer.concat([Buffer.from([Kind.retained, 0x2f]), bytes]);
    return Buffer.concat([Buffer.from([Kind.retainedHashed, 0x2f]), sha256(bytes)]);
}
/** The encoded <client> part of a client's keys. */
export function clientPart(clientId) {
    const bytes = Buffer.from(clientId);
    const head = Buffer.alloc(2);
    if (bytes.length <= maxInline) {
        head.writeUInt16BE(bytes.length);
        return Buffer.concat([head, bytes]);
    }
    head.writeUInt16BE(hashed);
    return Buffer.concat([head, sha256(bytes)]);
}
export function sessionKey(client) {
    return Buffer.concat([Buffer.from([Kind.session, 0x2f]), client]);
}
export function messageKey(client, seq) {
    const key = Buffer.allocUnsafe(2 + client.length + 8);
    key[0] = Kind.message;
    key[1] = 0x2f;
    client.copy(key, 2);
    // seq < 2^53: high and low 32 bits, big-endian, without a BigInt per key.
    key.writeUInt32BE(Math.floor(seq / 0x1_0000_0000), 2 + client.length);
    key.writeUInt32BE(seq >>> 0, 6 + client.length);
    return key;
}
export function qos2Key(client, messageId) {
    const key = Buffer.allocUnsafe(2 + client.length + 2);
    key[0] = Kind.qos2;
    key[1] = 0x2f;
    client.copy(key, 2);
    key.writeUInt16BE(messageId, 2 + client.length);
    return key;
}
/** Splits a session, message or qos2 key into its <client> part (as a map key) and the rest. */
export function splitClientKey(key) {
    const length = key.readUInt16BE(2);
    const end = 4 + (length === hashed ? 32 : length);
    if (end > key.length)
        throw new Error('key shorter than its client part');
    return { client: key.toString('hex', 2, end), rest: key.subarray(end) };
}
function sha256(bytes) {
    return createHash('sha256').update(bytes).digest();
}
//# sourceMappingURL=lmdb-keys.js.map