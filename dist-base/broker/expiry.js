/** When a message with this Message Expiry Interval (seconds) expires; undefined = never. */
export function expiryFrom(interval) {
    return interval === undefined ? undefined : Date.now() + interval * 1000;
}
/** Whether a message's expiry has passed: it is then neither delivered nor sent as retained. */
export function isExpired(message, now) {
    return message.expiresAt !== undefined && message.expiresAt <= now;
}
//# sourceMappingURL=expiry.js.map