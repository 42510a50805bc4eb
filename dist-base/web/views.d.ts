import type { Broker } from '../broker/broker.ts';
import type { BrokerStats, ClientDetails } from '../broker/types.ts';
import type { ScriptingHost, ScriptStatus } from '../scripting/index.ts';
import type { Device, DeviceIndex } from './devices.ts';
import type { DiscoveryIndex, HaView } from './homeassistant.ts';
import type { Recorder } from './recorder.ts';
import type { ScriptLog, ScriptLogLine } from './script-log.ts';
import type { TopicModel, TopicPage } from './topic-model.ts';
export declare const VIEWS: readonly ["broker", "clients", "topics", "scripts", "ha"];
export type ViewName = (typeof VIEWS)[number];
/** What the page asks for: one view, and for the long lists a page of it. */
export interface ViewRequest {
    view: ViewName;
    offset: number;
    filter: string;
    /** Topic tree nodes the user opened. */
    expanded: string[];
}
export declare const PAGE_SIZE = 100;
/** Validates a request from the WebSocket or the query string; anything odd falls back to a default. */
export declare function parseViewRequest(input: Record<string, unknown>): ViewRequest;
export interface ListenerRow {
    name: string;
    type: string;
    host: string;
    port: number;
}
export interface BrokerView {
    listeners: ListenerRow[];
    stats: BrokerStats;
    /** Per second, over the last second or more. */
    rates: {
        messagesIn: number;
        messagesOut: number;
        bytesIn: number;
        bytesOut: number;
    };
    topics: number;
}
export interface ClientsView {
    total: number;
    matching: number;
    offset: number;
    pageSize: number;
    clients: ClientDetails[];
}
export interface ScriptsView {
    enabled: boolean;
    scripts: ScriptStatus[];
    /** The last lines the scripting host logged (prints, load errors, reloads), oldest first. */
    log: ScriptLogLine[];
}
export interface TopicsView {
    /**
     * When every topic began to be recorded (ms since the epoch), or null: with no page on the
     * Topics view the dashboard keeps only device and Home Assistant topics, and a page starts from
     * the retained messages, so a topic that is not retained appears once published after this time.
     */
    liveSince: number | null;
    /**
     * While the broker is too busy to record every message (above the dashboard's record
     * budget): about one message in `oneIn` is recorded, at `rate` messages a second, so a value
     * may lag, a topic published rarely may be missing, and counts are estimates. Device and
     * Home Assistant topics are recorded in full.
     */
    sampling: {
        oneIn: number;
        rate: number;
    } | null;
    tree: TopicPage;
    pageSize: number;
    devices: Device[];
}
export interface ViewSources {
    broker: Broker;
    model: TopicModel;
    devices: DeviceIndex;
    discovery: DiscoveryIndex;
    recorder: Recorder;
    scripting: ScriptingHost | undefined;
    scriptLog: ScriptLog | undefined;
    httpHost: string;
    httpPort: () => number;
}
/** Builds the data of each view from the broker's API and the dashboard's own indexes. */
export declare class Views {
    private readonly sources;
    private last;
    private rates;
    constructor(sources: ViewSources);
    build(request: ViewRequest): BrokerView | ClientsView | TopicsView | ScriptsView | HaView;
    private brokerView;
    /** Rates are deltas of the broker's totals over at least a second, so a fast refresh does not jitter. */
    private sampleRates;
    private clientsView;
}
