import { propertiesFromScript } from "./script-properties.js";
const encoder = new TextEncoder();
/**
 * Unpacks what the prelude's drain() returns (borrowed handle): [text, Int32Array buffer of
 * (topic length, payload length, qos | retain << 2, binary length or -1, properties JSON
 * length) per publish, binary payload bytes, count dropped in the guest because its queue
 * was full]. The text holds, per publish, the topic, the text payload, the properties JSON.
 */
export function readPublishChunk(ctx, chunk) {
    if (ctx.typeof(chunk) !== 'object')
        return { publishes: [], dropped: 0 };
    const textHandle = ctx.getProp(chunk, 0);
    const metaHandle = ctx.getProp(chunk, 1);
    const binaryHandle = ctx.getProp(chunk, 2);
    const droppedHandle = ctx.getProp(chunk, 3);
    try {
        const text = ctx.getString(textHandle);
        const metaBytes = copyBytes(ctx, metaHandle);
        const meta = new Int32Array(metaBytes.buffer, 0, metaBytes.length >> 2);
        const binary = ctx.typeof(binaryHandle) === 'object' ? copyBytes(ctx, binaryHandle) : new Uint8Array(0);
        const publishes = [];
        let pos = 0;
        let binaryOffset = 0;
        for (let m = 0; m < meta.length; m += 5) {
            const topic = text.slice(pos, pos + meta[m]);
            pos += meta[m];
            let payload;
            const binaryLength = meta[m + 3];
            if (binaryLength < 0) {
                payload = encoder.encode(text.slice(pos, pos + meta[m + 1]));
                pos += meta[m + 1];
            }
            else {
                payload = binary.slice(binaryOffset, binaryOffset + binaryLength);
                binaryOffset += binaryLength;
            }
            const propertiesLength = meta[m + 4];
            const properties = propertiesLength > 0 ? propertiesFromScript(text.slice(pos, pos + propertiesLength)) : undefined;
            pos += propertiesLength;
            const flags = meta[m + 2];
            const qos = (flags & 3) === 1 ? 1 : (flags & 3) === 2 ? 2 : 0;
            publishes.push({ topic, payload, qos, retain: (flags & 4) !== 0, properties });
        }
        return { publishes, dropped: ctx.getNumber(droppedHandle) };
    }
    finally {
        textHandle.dispose();
        metaHandle.dispose();
        binaryHandle.dispose();
        droppedHandle.dispose();
    }
}
/** Copies a guest ArrayBuffer (borrowed handle) out of the VM's memory. */
export function copyBytes(ctx, handle) {
    const view = ctx.getArrayBuffer(handle);
    try {
        return view.value.slice();
    }
    finally {
        view.dispose();
    }
}
//# sourceMappingURL=publish-chunk.js.map