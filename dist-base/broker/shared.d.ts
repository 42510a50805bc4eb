import type { Session, Subscription } from './sessions.ts';
import type { QoS } from './types.ts';
/**
 * `$share/<group>/<filter>` split into its parts; undefined for an ordinary filter, 'invalid'
 * for a malformed share name [MQTT-4.8.2-1, 4.8.2-2].
 */
export declare function parseSharedFilter(filter: string): {
    group: string;
    filter: string;
} | 'invalid' | undefined;
/**
 * One shared subscription group on one filter. In the subscription tree it is a single
 * subscriber; each message it matches goes to one member, round robin among the members
 * online, and to an offline persistent member only when none is online.
 */
export declare class SharedGroup {
    readonly group: string;
    readonly filter: string;
    routeEpoch: number;
    routeQos: QoS;
    routeRetain: boolean;
    routeIds: number[] | undefined;
    readonly members: Map<Session, Subscription>;
    private turn;
    constructor(group: string, filter: string);
    pick(): [Session, Subscription] | undefined;
}
