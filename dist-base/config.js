import { readFile } from 'node:fs/promises';
import { parseListenerSpecs } from "./listeners/config.js";
const numberKeys = [
    'port',
    'maxPacketSize',
    'maxInflight',
    'maxQueuedMessages',
    'stallTimeout',
    'connectTimeout',
    'tlsPort',
    'wsPort',
    'wssPort',
    'http',
    'lastValues',
];
const stringKeys = [
    'host',
    'user',
    'pass',
    'scripts',
    'logLevel',
    'passwordFile',
    'aclFile',
    'data',
    'cert',
    'key',
    'ca',
];
/** Reads a JSON config file; unknown keys and wrong types are errors that name the key. */
export async function readConfigFile(path) {
    let parsed;
    try {
        parsed = JSON.parse(await readFile(path, 'utf8'));
    }
    catch (error) {
        throw new Error(`cannot read config file ${path}: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new Error(`config file ${path}: expected a JSON object`);
    }
    const config = {};
    for (const [key, value] of Object.entries(parsed)) {
        if (key === 'listeners') {
            config.listeners = parseListenerSpecs(value, `config file ${path}`);
        }
        else if (key === 'useIdentityAsUsername' || key === 'memory') {
            if (typeof value !== 'boolean')
                throw new Error(`config file ${path}: "${key}" must be true or false`);
            config[key] = value;
        }
        else if (numberKeys.includes(key)) {
            if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
                throw new Error(`config file ${path}: "${key}" must be a non-negative integer`);
            }
            config[key] = value;
        }
        else if (stringKeys.includes(key)) {
            if (typeof value !== 'string')
                throw new Error(`config file ${path}: "${key}" must be a string`);
            config[key] = value;
        }
        else {
            throw new Error(`config file ${path}: unknown setting "${key}"`);
        }
    }
    return config;
}
//# sourceMappingURL=config.js.map