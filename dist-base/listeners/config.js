const types = ['tcp', 'tls', 'ws', 'wss'];
const numberKeys = ['port', 'maxConnections'];
const stringKeys = ['host', 'cert', 'key', 'ca', 'path'];
const booleanKeys = ['certificateOptional', 'useIdentityAsUsername'];
const tlsOnly = new Set(['cert', 'key', 'ca', 'certificateOptional', 'useIdentityAsUsername']);
/**
 * Validates the config file's `listeners` array. Errors name the entry and the key, like the
 * rest of the config file's checks.
 */
export function parseListenerSpecs(value, where) {
    if (!Array.isArray(value))
        throw new Error(`${where}: "listeners" must be an array`);
    return value.map((entry, i) => parseListenerSpec(entry, `${where}: listeners[${i}]`));
}
function parseListenerSpec(entry, where) {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
        throw new Error(`${where} must be an object`);
    }
    const record = entry;
    const type = record.type;
    if (typeof type !== 'string' || !types.includes(type)) {
        throw new Error(`${where}: "type" must be one of ${types.join(', ')}`);
    }
    const spec = { type };
    for (const [key, item] of Object.entries(record)) {
        if (key === 'type')
            continue;
        if (numberKeys.includes(key)) {
            if (typeof item !== 'number' || !Number.isInteger(item) || item < 0) {
                throw new Error(`${where}: "${key}" must be a non-negative integer`);
            }
        }
        else if (stringKeys.includes(key)) {
            if (typeof item !== 'string')
                throw new Error(`${where}: "${key}" must be a string`);
        }
        else if (booleanKeys.includes(key)) {
            if (typeof item !== 'boolean')
                throw new Error(`${where}: "${key}" must be true or false`);
        }
        else {
            throw new Error(`${where}: unknown setting "${key}"`);
        }
        if (tlsOnly.has(key) && type !== 'tls' && type !== 'wss') {
            throw new Error(`${where}: "${key}" applies only to tls and wss listeners`);
        }
        if (key === 'path' && type !== 'ws' && type !== 'wss') {
            throw new Error(`${where}: "path" applies only to ws and wss listeners`);
        }
        spec[key] = item;
    }
    if (spec.port === undefined)
        throw new Error(`${where}: "port" is required`);
    return checkListenerSpec(spec, where);
}
/** Cross-field rules, shared by the config file and the command line. */
export function checkListenerSpec(spec, where) {
    // Node treats a maxConnections of 0 as "no limit"; nobody means that by writing 0.
    if (spec.maxConnections !== undefined && spec.maxConnections < 1) {
        throw new Error(`${where}: "maxConnections" must be at least 1 (leave it out for no limit)`);
    }
    if (spec.type === 'tls' || spec.type === 'wss') {
        if (!spec.cert || !spec.key)
            throw new Error(`${where}: a ${spec.type} listener needs "cert" and "key"`);
        if (spec.useIdentityAsUsername && !spec.ca) {
            throw new Error(`${where}: "useIdentityAsUsername" needs "ca" to verify client certificates`);
        }
        if (spec.useIdentityAsUsername && spec.certificateOptional) {
            throw new Error(`${where}: "useIdentityAsUsername" needs a client certificate; drop "certificateOptional"`);
        }
    }
    if ((spec.type === 'ws' || spec.type === 'wss') && spec.path !== undefined && !spec.path.startsWith('/')) {
        throw new Error(`${where}: "path" must start with "/"`);
    }
    return spec;
}
/** Turns `--tls-port`, `--ws-port`, `--wss-port` (with `--cert`/`--key`/`--ca`) into listener specs. */
export function listenersFromShorthands(options) {
    const specs = [];
    const tls = { cert: options.cert ?? '', key: options.key ?? '', ca: options.ca };
    const identity = options.useIdentityAsUsername ? { useIdentityAsUsername: true } : {};
    if (options.tlsPort !== undefined) {
        specs.push(checkListenerSpec({ type: 'tls', port: options.tlsPort, ...tls, ...identity }, '--tls-port'));
    }
    if (options.wsPort !== undefined)
        specs.push({ type: 'ws', port: options.wsPort });
    if (options.wssPort !== undefined) {
        specs.push(checkListenerSpec({ type: 'wss', port: options.wssPort, ...tls, ...identity }, '--wss-port'));
    }
    if (specs.every((s) => s.type === 'ws') && (options.cert || options.key || options.ca)) {
        throw new Error('--cert, --key and --ca need --tls-port or --wss-port');
    }
    return specs;
}
//# sourceMappingURL=config.js.map