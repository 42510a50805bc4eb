export declare const formatKey: Buffer<ArrayBuffer>;
/** The first byte of each kind of key (the second is always '/'). */
export declare const Kind: {
    readonly retained: 114;
    readonly retainedHashed: 82;
    readonly session: 115;
    readonly message: 109;
    readonly qos2: 113;
    readonly scriptState: 112;
    readonly scriptStateHashed: 80;
};
/** Every script state key lies in [p/, p0) or [P/, P0): '0' is the byte after '/'. */
export declare const scriptStateRanges: {
    start: Buffer<ArrayBuffer>;
    end: Buffer<ArrayBuffer>;
}[];
export declare function scriptStateKey(name: string): Buffer;
export declare function retainedKey(topic: string): Buffer;
/** The encoded <client> part of a client's keys. */
export declare function clientPart(clientId: string): Buffer;
export declare function sessionKey(client: Buffer): Buffer;
export declare function messageKey(client: Buffer, seq: number): Buffer;
export declare function qos2Key(client: Buffer, messageId: number): Buffer;
/** Splits a session, message or qos2 key into its <client> part (as a map key) and the rest. */
export declare function splitClientKey(key: Buffer): {
    client: string;
    rest: Buffer;
};
