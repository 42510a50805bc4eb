import type { Message } from './types.ts';
/** When a message with this Message Expiry Interval (seconds) expires; undefined = never. */
export declare function expiryFrom(interval: number | undefined): number | undefined;
/** Whether a message's expiry has passed: it is then neither delivered nor sent as retained. */
export declare function isExpired(message: Message, now: number): boolean;
