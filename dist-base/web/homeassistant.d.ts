import { type TopicModel } from './topic-model.ts';
/** An entity announced on `homeassistant/<component>/[<node_id>/]<object_id>/config`. */
export interface HaEntity {
    configTopic: string;
    component: string;
    nodeId?: string | undefined;
    objectId: string;
    name: string;
    uniqueId?: string | undefined;
    stateTopic?: string | undefined;
    /** The last payload on the state topic, when one was seen. */
    state?: string | undefined;
    commandTopic?: string | undefined;
    unit?: string | undefined;
    /** online / offline from the availability topic(s); `n/a` when none is configured. */
    availability: 'online' | 'offline' | 'unknown' | 'n/a';
}
export interface HaDevice {
    /** The device's first identifier, or its name; entities without a device share one group. */
    key: string;
    name: string;
    manufacturer?: string | undefined;
    model?: string | undefined;
    entities: HaEntity[];
}
/** A discovery payload that is not a usable config; listed so the user sees why nothing shows up. */
export interface HaMalformed {
    configTopic: string;
    error: string;
    payload: string;
}
export interface HaView {
    devices: HaDevice[];
    malformed: HaMalformed[];
}
interface Availability {
    topic: string;
    on: string;
    off: string;
}
interface Parsed {
    entity: Omit<HaEntity, 'state' | 'availability'>;
    availability: Availability[];
    mode: string;
    device: {
        key: string;
        name: string;
        manufacturer?: string | undefined;
        model?: string | undefined;
    };
}
/** Parses one discovery payload; throws Malformed with a reason a user can act on. */
export declare function parseDiscovery(configTopic: string, text: string): Parsed;
/**
 * Home Assistant discovery configs, parsed as they arrive (`update`, from the dashboard's
 * `homeassistant/#` subscription) so that the topics an entity reads can be subscribed to
 * before its next state message. States are read from the topic map when the view is built.
 */
export declare class DiscoveryIndex {
    private readonly model;
    private readonly configs;
    constructor(model: TopicModel);
    /**
     * Takes a message on `homeassistant/#`; for a discovery config, returns the topics its entity's
     * state and availability are read from (none when the config is malformed or removed).
     */
    update(topic: string, payload: Buffer): string[];
    view(): HaView;
    private availability;
}
export {};
