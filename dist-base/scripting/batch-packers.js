import { DELIVERY_STRIDE } from "./protocol.js";
import { propertiesForScript } from "./script-properties.js";
/**
 * Packs messages bound for script subscriptions into one transferable batch. Cloning one
 * object (and one ArrayBuffer) per message dominated the main thread's cost; here a batch is
 * one Int32Array, two string arrays and one payload buffer, moved to the worker without a copy.
 * Payloads are copied once into the batch buffer, which also detaches them from the socket
 * chunk a broker Buffer may be a view of.
 */
export class DeliveryPacker {
    meta = new Int32Array(256 * DELIVERY_STRIDE);
    topics = [];
    clientIds = [];
    payloads = [];
    payloadBytes = 0;
    properties = [];
    get count() {
        return this.topics.length;
    }
    add(vmId, subId, message) {
        let m = this.topics.length * DELIVERY_STRIDE;
        if (m + DELIVERY_STRIDE > this.meta.length) {
            const grown = new Int32Array(this.meta.length * 2);
            grown.set(this.meta);
            this.meta = grown;
        }
        const meta = this.meta;
        meta[m++] = vmId;
        meta[m++] = subId;
        meta[m++] = message.qos | (message.retain ? 4 : 0);
        meta[m] = message.payload.length;
        this.topics.push(message.topic);
        if (message.properties) {
            const p = propertiesForScript(message.properties, message.expiresAt, Date.now());
            if (p)
                this.properties.push([this.topics.length - 1, p]);
        }
        this.clientIds.push(message.clientId ?? null);
        this.payloads.push(message.payload);
        this.payloadBytes += message.payload.length;
    }
    /** The batch so far, or undefined when empty; starts a new one. */
    seal() {
        if (this.topics.length === 0)
            return undefined;
        const payloads = concatBytes(this.payloads, this.payloadBytes);
        const batch = {
            t: 'deliveries',
            meta: this.meta.slice(0, this.topics.length * DELIVERY_STRIDE),
            topics: this.topics,
            clientIds: this.clientIds,
            payloads,
            properties: this.properties,
        };
        this.properties = [];
        this.topics = [];
        this.clientIds = [];
        this.payloads = [];
        this.payloadBytes = 0;
        return batch;
    }
}
/** The worker's counterpart: packs script publishes for the main thread. */
export class PublishPacker {
    properties = [];
    meta = [];
    topics = [];
    payloads = [];
    payloadBytes = 0;
    get empty() {
        return this.topics.length === 0;
    }
    add(msg) {
        if (msg.properties)
            this.properties.push([this.topics.length, msg.properties]);
        this.meta.push(msg.vmId, msg.qos | (msg.retain ? 4 : 0), msg.payload.length);
        this.topics.push(msg.topic);
        this.payloads.push(msg.payload);
        this.payloadBytes += msg.payload.length;
    }
    seal() {
        if (this.topics.length === 0)
            return undefined;
        const payloads = concatBytes(this.payloads, this.payloadBytes);
        const batch = {
            t: 'pubs',
            meta: Int32Array.from(this.meta),
            topics: this.topics,
            payloads,
            properties: this.properties,
        };
        this.properties = [];
        this.meta = [];
        this.topics = [];
        this.payloads = [];
        this.payloadBytes = 0;
        return batch;
    }
}
/**
 * The payloads of a batch in one fresh Uint8Array. Not Buffer.concat: a small Buffer may be a
 * slice of Node's shared pool, and posting it would copy the whole pool to the other thread.
 */
function concatBytes(parts, total) {
    const out = new Uint8Array(total);
    let offset = 0;
    for (const part of parts) {
        out.set(part, offset);
        offset += part.length;
    }
    return out;
}
//# sourceMappingURL=batch-packers.js.map