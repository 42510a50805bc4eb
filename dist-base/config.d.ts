import type { StartOptions } from './index.ts';
import { type ListenerShorthands } from './listeners/config.ts';
import type { ListenerSpec } from './listeners/types.ts';
/** The settings a config file may hold: the CLI's, in JSON, with the same names. */
export interface FileConfig extends ListenerShorthands {
    port?: number;
    host?: string;
    user?: string;
    pass?: string;
    scripts?: string;
    logLevel?: string;
    maxPacketSize?: number;
    maxInflight?: number;
    maxQueuedMessages?: number;
    stallTimeout?: number;
    connectTimeout?: number;
    passwordFile?: string;
    aclFile?: string;
    /** Data directory of the durable store (the CLI defaults it to ./tinymqtt-data). */
    data?: string;
    /** Keep everything in memory: no data directory. */
    memory?: boolean;
    /** Any number of extra listeners (tcp, tls, ws, wss); see src/listeners/types.ts. */
    listeners?: ListenerSpec[];
    /** HTTP port of the web dashboard (off when unset). */
    http?: number;
    /** Topics in the last-value cache (ms_get, broker.lastValue); see BrokerOptions.lastValues. */
    lastValues?: number;
}
/** Reads a JSON config file; unknown keys and wrong types are errors that name the key. */
export declare function readConfigFile(path: string): Promise<FileConfig>;
export type CliConfig = FileConfig & Pick<StartOptions, 'logLevel'>;
