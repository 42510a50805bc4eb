import type { Message, QoS } from '../broker/types.ts';
/**
 * The last message seen on one topic. Its payload is copied into a buffer the entry owns and
 * reuses: keeping the broker's payload would pin the socket's 64 KiB read buffer it is a view
 * of (+43% broker CPU in scripts/bench-web.ts), and a fresh copy per message would be garbage
 * the GC has to promote.
 */
export declare class TopicEntry {
    private buf;
    private length;
    qos: QoS;
    retain: boolean;
    /** When the last message arrived (ms since the epoch), to the dashboard tick's resolution. */
    at: number;
    /** Messages seen on this topic since the dashboard began to keep it (see Recorder). */
    count: number;
    /** Whether `count` is an estimate: some of its messages were recorded while the Recorder sampled. */
    estimated: boolean;
    /** Bumped with each message, for what is derived from the payload (devices.ts caches on it). */
    version: number;
    constructor(msg: Message, at: number, weight: number);
    /** A view of the entry's own copy: valid until its next message. */
    get payload(): Buffer;
    update(msg: Message, at: number, weight: number): void;
}
/** One row of the topic tree as the page shows it. */
export interface TopicRow {
    path: string;
    name: string;
    depth: number;
    /** Direct children in the tree (0 for a plain leaf). */
    children: number;
    /** Topics with a value at or below this node. */
    topics: number;
    expanded: boolean;
    value?: TopicValue | undefined;
}
export interface TopicValue {
    /** UTF-8 text, or `0x…` hex when the payload is not valid UTF-8; cut at PREVIEW_BYTES. */
    preview: string;
    bytes: number;
    retain: boolean;
    qos: QoS;
    at: number;
    count: number;
    /** The count was estimated from sampled messages (see Recorder). */
    estimated: boolean;
}
export interface TopicPage {
    total: number;
    offset: number;
    rows: TopicRow[];
    /** All topics known (the tree's size), whatever the filter. */
    topicCount: number;
}
/** Turns a payload into something printable; binary payloads become hex. */
export declare function previewPayload(payload: Buffer, limit?: number): string;
export declare function payloadText(entry: TopicEntry | undefined): string | undefined;
/**
 * The live topic map behind the Topics, Devices and Home Assistant views. On each message it
 * is given (see Recorder for which) the broker pays for one Map lookup, a copy of the payload
 * into the topic's own buffer and a few field writes (`record`); the tree and the device index
 * are brought up to date only on the dashboard's batch tick (`ingest`).
 */
export declare class TopicModel {
    readonly entries: Map<string, TopicEntry>;
    /** Bumped on every message, so the feed can tell whether anything changed since it last sent. */
    generation: number;
    private fresh;
    /** Time of the last tick: messages are stamped with it, saving a clock read per message. */
    private clock;
    private root;
    private readonly watchers;
    /**
     * The only per-message work, for each message the Recorder keeps; `weight` is how many
     * messages this one stands for when the Recorder samples.
     */
    record(msg: Message, weight?: number): void;
    /** Called once for every new topic during `ingest` (the device index). */
    onNewTopic(watcher: (topic: string) => void): void;
    /** Adds topics first seen since the last tick to the tree and the indexes. */
    ingest(): void;
    private index;
    /** Forgets one topic (a value no longer kept current must not be shown as the last one). */
    delete(topic: string): void;
    /** Forgets every topic but those `keep` accepts, rebuilding the tree from what is left. */
    prune(keep: (topic: string) => boolean): void;
    get size(): number;
    /**
     * A page of the tree with `expanded` nodes opened; with a filter, a flat page of the topics
     * containing it instead (a tree of 10,000 topics is searched, not scrolled).
     */
    page(options: {
        offset: number;
        limit: number;
        expanded: ReadonlySet<string>;
        filter: string;
        /** Whether the broker holds a retained message for the topic (live deliveries clear the flag). */
        isRetained: (topic: string) => boolean;
    }): TopicPage;
    private value;
}
