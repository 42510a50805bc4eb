import type { QuickJSHandle } from 'quickjs-emscripten';
import type { QoS } from '../broker/types.ts';
import type { JsonProperties } from './script-properties.ts';
/** A message for one of a VM's subscriptions. */
export interface Delivery {
    subId: number;
    topic: string;
    payload: Uint8Array;
    qos: QoS;
    retain: boolean;
    clientId: string | undefined;
    properties?: JsonProperties | undefined;
}
/**
 * The arguments of the prelude's dispatch(): topics and payloads as one string, per message
 * [callback index, topic length, payload length, qos | retain << 2, client id index,
 * binary offset, binary length, subscription id, properties index], the client ids joined
 * by NUL, the raw bytes of payloads that are not valid UTF-8, and the MQTT 5 properties of
 * the messages that have any, as one JSON array. Text payloads' bytes are rebuilt in the guest
 * only when a script reads msg.bytes.
 */
export interface PackedDeliveries {
    /** The deliveries that still had a callback, in batch order. */
    live: Delivery[];
    /** Borrowed from the VM's registry, one per distinct subscription. */
    callbacks: QuickJSHandle[];
    text: string;
    meta: ArrayBuffer;
    clientIds: string;
    binary: ArrayBuffer | undefined;
    /** '' when no message in the batch has properties. */
    properties: string;
}
export declare function packDeliveries(chunk: Delivery[], callbackOf: (subId: number) => QuickJSHandle | undefined): PackedDeliveries;
