import { isUtf8 } from 'node:buffer';
/** Int32 slots per message; must match the prelude's dispatcher. */
const STRIDE = 9;
const decoder = new TextDecoder();
export function packDeliveries(chunk, callbackOf) {
    const live = [];
    const callbacks = [];
    const callbackIndex = new Map();
    const clientIds = [];
    const clientIndex = new Map();
    const texts = [];
    const properties = [];
    const binaries = [];
    let binaryLength = 0;
    const meta = new Int32Array(chunk.length * STRIDE);
    for (const d of chunk) {
        const callback = callbackOf(d.subId);
        if (!callback)
            continue; // unsubscribed while the message was on its way
        let ci = callbackIndex.get(d.subId);
        if (ci === undefined) {
            ci = callbacks.length;
            callbacks.push(callback);
            callbackIndex.set(d.subId, ci);
        }
        const text = decoder.decode(d.payload);
        const m = live.length * STRIDE;
        meta[m] = ci;
        meta[m + 1] = d.topic.length;
        meta[m + 2] = text.length;
        meta[m + 3] = d.qos | (d.retain ? 4 : 0);
        if (d.clientId === undefined)
            meta[m + 4] = -1;
        else {
            let idx = clientIndex.get(d.clientId);
            if (idx === undefined) {
                idx = clientIds.length;
                clientIds.push(d.clientId);
                clientIndex.set(d.clientId, idx);
            }
            meta[m + 4] = idx;
        }
        if (isUtf8(d.payload)) {
            meta[m + 5] = -1;
        }
        else {
            meta[m + 5] = binaryLength;
            meta[m + 6] = d.payload.length;
            binaries.push(d.payload);
            binaryLength += d.payload.length;
        }
        meta[m + 7] = d.subId;
        if (d.properties) {
            meta[m + 8] = properties.length;
            properties.push(d.properties);
        }
        else {
            meta[m + 8] = -1;
        }
        texts.push(d.topic, text);
        live.push(d);
    }
    return {
        live,
        callbacks,
        text: texts.join(''),
        meta: meta.buffer.slice(0, live.length * STRIDE * 4),
        clientIds: clientIds.join('\u0000'),
        binary: binaryLength > 0 ? concat(binaries, binaryLength) : undefined,
        properties: properties.length > 0 ? JSON.stringify(properties) : '',
    };
}
function concat(parts, length) {
    const out = new Uint8Array(length);
    let offset = 0;
    for (const p of parts) {
        out.set(p, offset);
        offset += p.length;
    }
    return out.buffer;
}
//# sourceMappingURL=delivery-batch.js.map