import type { Message } from '../broker/types.ts';
import { type FromWorker, type ToWorker } from './protocol.ts';
/**
 * Packs messages bound for script subscriptions into one transferable batch. Cloning one
 * object (and one ArrayBuffer) per message dominated the main thread's cost; here a batch is
 * one Int32Array, two string arrays and one payload buffer, moved to the worker without a copy.
 * Payloads are copied once into the batch buffer, which also detaches them from the socket
 * chunk a broker Buffer may be a view of.
 */
export declare class DeliveryPacker {
    private meta;
    private topics;
    private clientIds;
    private payloads;
    private payloadBytes;
    private properties;
    get count(): number;
    add(vmId: number, subId: number, message: Message): void;
    /** The batch so far, or undefined when empty; starts a new one. */
    seal(): (ToWorker & {
        t: 'deliveries';
    }) | undefined;
}
/** The worker's counterpart: packs script publishes for the main thread. */
export declare class PublishPacker {
    private properties;
    private meta;
    private topics;
    private payloads;
    private payloadBytes;
    get empty(): boolean;
    add(msg: FromWorker & {
        t: 'pub';
    }): void;
    seal(): (FromWorker & {
        t: 'pubs';
    }) | undefined;
}
