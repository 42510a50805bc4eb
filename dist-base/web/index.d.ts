import type { Broker } from '../broker/broker.ts';
import type { ScriptingHost } from '../scripting/index.ts';
import type { ScriptLog } from './script-log.ts';
export type { Device, Relay } from './devices.ts';
export type { HaDevice, HaEntity, HaMalformed, HaView } from './homeassistant.ts';
export type { ScriptLogLine } from './script-log.ts';
export { ScriptLog, scriptBrokerWithLog } from './script-log.ts';
export type { BrokerView, ClientsView, ScriptsView, TopicsView, ViewName } from './views.ts';
export interface WebOptions {
    /** HTTP port (0 picks a free one; read it back from `port`). */
    port: number;
    /** Bind address (default: the broker's). */
    host?: string | undefined;
    /** The scripting host, for the Scripts view. */
    scripting?: ScriptingHost | undefined;
    /** The scripting host's log lines (see scriptBrokerWithLog), for the Scripts view's tail. */
    scriptLog?: ScriptLog | undefined;
    /** How often live updates are batched to open pages (default 250 ms). */
    intervalMs?: number | undefined;
    /**
     * How long every topic is still recorded after the last page left the Topics view (a reload
     * keeps the tree) or after an HTTP read of the topics view (default 60 s).
     */
    lingerMs?: number | undefined;
    /**
     * Messages a second the Topics tree records at most (default 10,000); above that it samples,
     * so that a busy broker spends a few per cent at most on it (scripts/bench-web.ts). Device
     * and Home Assistant topics are always recorded in full.
     */
    recordBudget?: number | undefined;
}
export interface WebDashboard {
    readonly port: number;
    /** Open live-update connections. */
    readonly pages: number;
    /**
     * Whether every message is recorded for the Topics tree (while a page shows it, and for
     * `lingerMs` after); otherwise only the topics of the Devices and Home Assistant views are.
     */
    readonly recording: boolean;
    /** Stops serving and drops open pages. Idempotent. */
    close(): Promise<void>;
}
/** The dashboard started for a broker, if any. */
export declare function webOf(broker: Broker): WebDashboard | undefined;
/** Starts the dashboard next to a running broker and registers its closing with the broker. */
export declare function startWeb(broker: Broker, options: WebOptions): Promise<WebDashboard>;
