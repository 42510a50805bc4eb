import type { Broker } from '../broker/broker.ts';
/**
 * The dashboard asks for the broker's own credentials (HTTP Basic) whenever MQTT clients need
 * them: a single user is set, or access control (a password file) authenticates clients.
 */
export declare function authRequired(broker: Broker): boolean;
/** Checks an Authorization header against the broker's user check; true when it may pass. */
export declare function checkBasicAuth(broker: Broker, header: string | undefined, address: string): boolean;
