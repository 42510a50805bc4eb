import type { MessageProperties } from '../broker/types.ts';
/**
 * MQTT 5 properties as they cross into and out of a script: JSON, with correlation data as
 * an array of byte values (the guest turns it into a Uint8Array). Only known keys with the
 * right types survive the trip back, so a script cannot hand the broker anything malformed.
 */
export interface JsonProperties {
    payloadFormatIndicator?: boolean;
    messageExpiryInterval?: number;
    contentType?: string;
    responseTopic?: string;
    correlationData?: number[];
    userProperties?: Record<string, string | string[]>;
}
/** What a script sees; the expiry interval counts down to what is left of it. */
export declare function propertiesForScript(properties: MessageProperties | undefined, expiresAt: number | undefined, now: number): JsonProperties | undefined;
/** Parses and checks what a script passed as `ms_publish(…, { properties })`. */
export declare function propertiesFromScript(json: string): MessageProperties | undefined;
