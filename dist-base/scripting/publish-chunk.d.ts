import type { QuickJSContext, QuickJSHandle } from 'quickjs-emscripten';
import type { MessageProperties, QoS } from '../broker/types.ts';
export interface ScriptPublish {
    topic: string;
    payload: Uint8Array;
    qos: QoS;
    retain: boolean;
    properties: MessageProperties | undefined;
}
/**
 * Unpacks what the prelude's drain() returns (borrowed handle): [text, Int32Array buffer of
 * (topic length, payload length, qos | retain << 2, binary length or -1, properties JSON
 * length) per publish, binary payload bytes, count dropped in the guest because its queue
 * was full]. The text holds, per publish, the topic, the text payload, the properties JSON.
 */
export declare function readPublishChunk(ctx: QuickJSContext, chunk: QuickJSHandle): {
    publishes: ScriptPublish[];
    dropped: number;
};
/** Copies a guest ArrayBuffer (borrowed handle) out of the VM's memory. */
export declare function copyBytes(ctx: QuickJSContext, handle: QuickJSHandle): Uint8Array;
