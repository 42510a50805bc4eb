import { payloadText } from "./topic-model.js";
const DEVICE_TOPIC = /^(tele|stat)\/([^/]+)\/(LWT|STATE|RESULT|POWER\d*)$/;
const POWER_KEY = /^POWER\d*$/;
/**
 * Finds devices from the topics they publish. The index is fed only with new topic names at
 * the dashboard tick; states are read from the topic map when the view is built.
 */
export class DeviceIndex {
    model;
    devices = new Map();
    constructor(model) {
        this.model = model;
        model.onNewTopic((topic) => this.add(topic));
    }
    add(topic) {
        const match = DEVICE_TOPIC.exec(topic);
        if (match === null)
            return;
        const [, prefix, id, leaf] = match;
        // tele/<dev>/STATE and tele/<dev>/LWT are telemetry; stat/<dev>/POWER* and RESULT are state.
        const telemetry = leaf === 'LWT' || leaf === 'STATE';
        if (telemetry !== (prefix === 'tele'))
            return;
        let topics = this.devices.get(id);
        if (topics === undefined) {
            topics = new Set();
            this.devices.set(id, topics);
        }
        topics.add(topic);
    }
    list() {
        const out = [];
        for (const [id, topics] of this.devices)
            out.push(this.describe(id, topics));
        return out.sort((a, b) => a.id.localeCompare(b.id));
    }
    describe(id, topics) {
        const entries = this.model.entries;
        let lastSeen = 0;
        // Each relay takes its state from the newest message that mentions it.
        const relays = new Map();
        const note = (name, state, at) => {
            if (typeof state !== 'string')
                return;
            const known = relays.get(name);
            if (known === undefined || known.at <= at)
                relays.set(name, { state, at });
        };
        for (const topic of topics) {
            const entry = entries.get(topic);
            if (entry === undefined)
                continue;
            lastSeen = Math.max(lastSeen, entry.at);
            const leaf = topic.slice(topic.lastIndexOf('/') + 1);
            if (POWER_KEY.test(leaf))
                note(leaf, payloadText(entry), entry.at);
            else if (leaf === 'STATE' || leaf === 'RESULT') {
                for (const [key, value] of jsonPowerKeys(entry))
                    note(key, value, entry.at);
            }
        }
        const lwt = payloadText(entries.get(`tele/${id}/LWT`))
            ?.trim()
            .toLowerCase();
        const online = lwt === 'online' ? 'online' : lwt === 'offline' ? 'offline' : 'unknown';
        const list = [...relays].map(([name, r]) => ({ name, state: r.state }));
        list.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
        return { id, online, relays: list, lastSeen };
    }
}
/** Parsed STATE / RESULT payloads, so a view rebuilt every tick parses each message once. */
const parsedPower = new WeakMap();
function jsonPowerKeys(entry) {
    const cached = parsedPower.get(entry);
    if (cached !== undefined && cached.version === entry.version)
        return cached.keys;
    let keys = [];
    try {
        const parsed = JSON.parse(entry.payload.toString('utf8'));
        if (typeof parsed === 'object' && parsed !== null) {
            keys = Object.entries(parsed).filter(([key]) => POWER_KEY.test(key));
        }
    }
    catch { }
    parsedPower.set(entry, { version: entry.version, keys });
    return keys;
}
//# sourceMappingURL=devices.js.map