import type { ListenerSpec } from './types.ts';
/**
 * Validates the config file's `listeners` array. Errors name the entry and the key, like the
 * rest of the config file's checks.
 */
export declare function parseListenerSpecs(value: unknown, where: string): ListenerSpec[];
/** Cross-field rules, shared by the config file and the command line. */
export declare function checkListenerSpec(spec: ListenerSpec, where: string): ListenerSpec;
/** The command line's (and config file's) single-listener shorthands. */
export interface ListenerShorthands {
    tlsPort?: number | undefined;
    wsPort?: number | undefined;
    wssPort?: number | undefined;
    cert?: string | undefined;
    key?: string | undefined;
    ca?: string | undefined;
    useIdentityAsUsername?: boolean | undefined;
}
/** Turns `--tls-port`, `--ws-port`, `--wss-port` (with `--cert`/`--key`/`--ca`) into listener specs. */
export declare function listenersFromShorthands(options: ListenerShorthands): ListenerSpec[];
