/** What a script sees; the expiry interval counts down to what is left of it. */
export function propertiesForScript(properties, expiresAt, now) {
    if (!properties)
        return undefined;
    const out = {};
    if (properties.payloadFormatIndicator !== undefined)
        out.payloadFormatIndicator = properties.payloadFormatIndicator;
    if (properties.contentType !== undefined)
        out.contentType = properties.contentType;
    if (properties.responseTopic !== undefined)
        out.responseTopic = properties.responseTopic;
    if (properties.correlationData !== undefined)
        out.correlationData = Array.from(properties.correlationData);
    if (properties.userProperties !== undefined)
        out.userProperties = properties.userProperties;
    if (expiresAt !== undefined)
        out.messageExpiryInterval = Math.max(1, Math.ceil((expiresAt - now) / 1000));
    else if (properties.messageExpiryInterval !== undefined)
        out.messageExpiryInterval = properties.messageExpiryInterval;
    return Object.keys(out).length > 0 ? out : undefined;
}
function isRecord(value) {
    return typeof value === 'object' && value !== null && !Array.isArray(value);
}
/** Parses and checks what a script passed as `ms_publish(…, { properties })`. */
export function propertiesFromScript(json) {
    const raw = JSON.parse(json);
    if (!isRecord(raw))
        return undefined;
    const out = {};
    if (typeof raw.payloadFormatIndicator === 'boolean')
        out.payloadFormatIndicator = raw.payloadFormatIndicator;
    const expiry = raw.messageExpiryInterval;
    if (typeof expiry === 'number' && Number.isInteger(expiry) && expiry >= 0 && expiry <= 0xffffffff) {
        out.messageExpiryInterval = expiry;
    }
    if (typeof raw.contentType === 'string')
        out.contentType = raw.contentType;
    if (typeof raw.responseTopic === 'string' && raw.responseTopic !== '' && !/[+#]/.test(raw.responseTopic)) {
        out.responseTopic = raw.responseTopic;
    }
    const correlation = raw.correlationData;
    if (Array.isArray(correlation) && correlation.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
        out.correlationData = Buffer.from(correlation);
    }
    if (isRecord(raw.userProperties)) {
        const user = {};
        for (const [key, value] of Object.entries(raw.userProperties)) {
            if (typeof value === 'string')
                user[key] = value;
            else if (Array.isArray(value) && value.every((v) => typeof v === 'string'))
                user[key] = value;
        }
        if (Object.keys(user).length > 0)
            out.userProperties = user;
    }
    return Object.keys(out).length > 0 ? out : undefined;
}
//# sourceMappingURL=script-properties.js.map