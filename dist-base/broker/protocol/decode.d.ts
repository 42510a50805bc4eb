import type { ProtocolVersion } from '../types.ts';
import { ProtocolError } from './errors.ts';
import type { ConnectPacket, InboundPacket } from './packets.ts';
/**
 * The one module that turns packet bytes into packet objects.
 *
 * SUBSCRIBE, UNSUBSCRIBE and every MQTT 5 packet go through mqtt-packet. PUBLISH and the
 * four acknowledgements of MQTT 3.x — the message hot path — and the 3.x CONNECT — the
 * connection hot path — are decoded by hand: on our 2-core machine mqtt-packet parsed
 * 0.92 M PUBLISH packets/s (64-byte payload) against 5.75 M/s for this decoder, and
 * 0.13 M CONNECT/s against 1.08 M/s (`node --import tsx scripts/bench-codec.ts`).
 */
/** CONNECT names a protocol level the broker does not speak: answer CONNACK 1, then close. */
export declare class UnsupportedProtocolError extends ProtocolError {
    readonly level: number;
    constructor(level: number);
}
export declare function decodeConnect(header: number, body: Buffer): ConnectPacket;
/** Decodes any packet after CONNECT. Throws ProtocolError on malformed input. */
export declare function decodePacket(header: number, body: Buffer, version: ProtocolVersion): InboundPacket;
