import type { WebSocket } from 'ws';
import type { Broker } from '../broker/broker.ts';
import type { Recorder } from './recorder.ts';
import type { TopicModel } from './topic-model.ts';
import { type Views } from './views.ts';
/**
 * Live updates: every `intervalMs` each open page gets its current view, built and serialized
 * only if something it shows may have changed, and sent only if the text differs. Pages on the
 * same view and page share one serialization per tick.
 */
export declare class Feed {
    private readonly broker;
    private readonly model;
    private readonly recorder;
    private readonly views;
    private readonly watchers;
    private clientGeneration;
    private readonly timer;
    private readonly bump;
    constructor(broker: Broker, model: TopicModel, recorder: Recorder, views: Views, intervalMs: number);
    add(socket: WebSocket): void;
    /** Only a page showing the Topics view needs every message recorded. */
    private watchTopics;
    private listenClients;
    get size(): number;
    /** One batch: bring the indexes up to date, then answer every page that needs a frame. */
    tick(): void;
    /** Builds (or takes from `built`, shared by pages on the same view) and sends one frame. */
    private send;
    close(): void;
}
