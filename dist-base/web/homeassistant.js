import { payloadText, previewPayload } from "./topic-model.js";
const CONFIG_TOPIC = /^homeassistant\/([^/]+)\/(?:([^/]+)\/)?([^/]+)\/config$/;
/** Abbreviations Home Assistant accepts in discovery payloads, for the keys shown here. */
const LONG = {
    stat_t: 'state_topic',
    cmd_t: 'command_topic',
    avty_t: 'availability_topic',
    avty: 'availability',
    avty_mode: 'availability_mode',
    pl_avail: 'payload_available',
    pl_not_avail: 'payload_not_available',
    uniq_id: 'unique_id',
    unit_of_meas: 'unit_of_measurement',
    dev: 'device',
    ids: 'identifiers',
    mf: 'manufacturer',
    mdl: 'model',
    t: 'topic',
};
function expand(object) {
    const out = {};
    for (const [key, value] of Object.entries(object))
        out[LONG[key] ?? key] = value;
    return out;
}
class Malformed extends Error {
}
function optionalString(config, key) {
    const value = config[key];
    if (value === undefined || value === null)
        return undefined;
    if (typeof value !== 'string')
        throw new Malformed(`"${key}" must be a string`);
    return value;
}
/** HA's `~` base topic: a topic value that starts or ends with `~` has it replaced. */
function withBase(topic, base) {
    if (topic === undefined || base === undefined)
        return topic;
    if (topic.startsWith('~'))
        return base + topic.slice(1);
    if (topic.endsWith('~'))
        return topic.slice(0, -1) + base;
    return topic;
}
/** Parses one discovery payload; throws Malformed with a reason a user can act on. */
export function parseDiscovery(configTopic, text) {
    const match = CONFIG_TOPIC.exec(configTopic);
    if (match === null)
        throw new Malformed('not a discovery config topic');
    const [, component, nodeId, objectId] = match;
    let raw;
    try {
        raw = JSON.parse(text);
    }
    catch (error) {
        throw new Malformed(`invalid JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
        throw new Malformed('payload must be a JSON object');
    }
    const config = expand(raw);
    const base = optionalString(config, '~');
    const uniqueId = optionalString(config, 'unique_id');
    const name = optionalString(config, 'name') ?? uniqueId ?? objectId;
    const availability = [];
    const on = optionalString(config, 'payload_available') ?? 'online';
    const off = optionalString(config, 'payload_not_available') ?? 'offline';
    const single = withBase(optionalString(config, 'availability_topic'), base);
    if (single !== undefined)
        availability.push({ topic: single, on, off });
    if (config.availability !== undefined) {
        if (!Array.isArray(config.availability))
            throw new Malformed('"availability" must be a list');
        for (const item of config.availability) {
            if (typeof item !== 'object' || item === null)
                throw new Malformed('"availability" entries must be objects');
            const a = expand(item);
            const topic = withBase(optionalString(a, 'topic'), base);
            if (topic === undefined)
                throw new Malformed('"availability" entry without "topic"');
            availability.push({
                topic,
                on: optionalString(a, 'payload_available') ?? on,
                off: optionalString(a, 'payload_not_available') ?? off,
            });
        }
    }
    let device = { key: '', name: '(no device)' };
    if (config.device !== undefined) {
        if (typeof config.device !== 'object' || config.device === null)
            throw new Malformed('"device" must be an object');
        const d = expand(config.device);
        const ids = d.identifiers;
        const firstId = Array.isArray(ids) ? ids[0] : ids;
        const deviceName = optionalString(d, 'name');
        const key = typeof firstId === 'string' || typeof firstId === 'number' ? String(firstId) : (deviceName ?? '');
        device = {
            key,
            name: deviceName ?? (key || '(no device)'),
            manufacturer: optionalString(d, 'manufacturer'),
            model: optionalString(d, 'model'),
        };
    }
    return {
        entity: {
            configTopic,
            component,
            nodeId,
            objectId,
            name,
            uniqueId,
            stateTopic: withBase(optionalString(config, 'state_topic'), base),
            commandTopic: withBase(optionalString(config, 'command_topic'), base),
            unit: optionalString(config, 'unit_of_measurement'),
        },
        availability,
        mode: optionalString(config, 'availability_mode') ?? 'latest',
        device,
    };
}
/**
 * Home Assistant discovery configs, parsed as they arrive (`update`, from the dashboard's
 * `homeassistant/#` subscription) so that the topics an entity reads can be subscribed to
 * before its next state message. States are read from the topic map when the view is built.
 */
export class DiscoveryIndex {
    model;
    configs = new Map();
    constructor(model) {
        this.model = model;
    }
    /**
     * Takes a message on `homeassistant/#`; for a discovery config, returns the topics its entity's
     * state and availability are read from (none when the config is malformed or removed).
     */
    update(topic, payload) {
        if (!CONFIG_TOPIC.test(topic))
            return [];
        // An empty config payload removes the entity in Home Assistant.
        if (payload.length === 0) {
            this.configs.delete(topic);
            return [];
        }
        let parsed;
        try {
            parsed = parseDiscovery(topic, payload.toString('utf8'));
        }
        catch (error) {
            if (!(error instanceof Malformed))
                throw error;
            parsed = { configTopic: topic, error: error.message, payload: previewPayload(payload) };
        }
        this.configs.set(topic, parsed);
        if ('error' in parsed)
            return [];
        const topics = parsed.availability.map((a) => a.topic);
        if (parsed.entity.stateTopic !== undefined)
            topics.push(parsed.entity.stateTopic);
        return topics;
    }
    view() {
        const devices = new Map();
        const malformed = [];
        const entries = this.model.entries;
        for (const parsed of this.configs.values()) {
            if ('error' in parsed) {
                malformed.push(parsed);
                continue;
            }
            let device = devices.get(parsed.device.key);
            if (device === undefined) {
                device = { ...parsed.device, entities: [] };
                devices.set(parsed.device.key, device);
            }
            const stateTopic = parsed.entity.stateTopic;
            device.entities.push({
                ...parsed.entity,
                state: stateTopic === undefined ? undefined : payloadText(entries.get(stateTopic)),
                availability: this.availability(parsed),
            });
        }
        const list = [...devices.values()].sort((a, b) => a.name.localeCompare(b.name));
        for (const d of list)
            d.entities.sort((a, b) => a.name.localeCompare(b.name));
        malformed.sort((a, b) => a.configTopic.localeCompare(b.configTopic));
        return { devices: list, malformed };
    }
    availability(parsed) {
        if (parsed.availability.length === 0)
            return 'n/a';
        const states = parsed.availability.map((a) => {
            const value = payloadText(this.model.entries.get(a.topic));
            return {
                value: value === a.on ? 'online' : value === a.off ? 'offline' : 'unknown',
                at: this.model.entries.get(a.topic)?.at ?? 0,
            };
        });
        // availability_mode: all / any / latest (HA's default), as Home Assistant combines them.
        if (parsed.mode === 'all')
            return states.every((s) => s.value === 'online')
                ? 'online'
                : states.some((s) => s.value === 'offline')
                    ? 'offline'
                    : 'unknown';
        if (parsed.mode === 'any')
            return states.some((s) => s.value === 'online')
                ? 'online'
                : states.every((s) => s.value === 'offline')
                    ? 'offline'
                    : 'unknown';
        const latest = states.reduce((a, b) => (b.at > a.at ? b : a));
        return latest.value;
    }
}
//# sourceMappingURL=homeassistant.js.map