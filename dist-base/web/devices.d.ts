import { type TopicModel } from './topic-model.ts';
/** A device in the Tasmota / OpenBeken convention (`tele/<dev>/LWT`, `stat/<dev>/POWER<n>` …). */
export interface Device {
    id: string;
    /** From `tele/<dev>/LWT`: Online / Offline as published, or unknown when there is no LWT. */
    online: 'online' | 'offline' | 'unknown';
    relays: Relay[];
    /** Last message from the device on any of its known topics (ms since the epoch). */
    lastSeen: number;
}
export interface Relay {
    /** `POWER`, `POWER1`, `POWER2` …: the command to toggle it is `cmnd/<dev>/<name> TOGGLE`. */
    name: string;
    state: string;
}
/**
 * Finds devices from the topics they publish. The index is fed only with new topic names at
 * the dashboard tick; states are read from the topic map when the view is built.
 */
export declare class DeviceIndex {
    private readonly model;
    private readonly devices;
    constructor(model: TopicModel);
    private add;
    list(): Device[];
    private describe;
}
