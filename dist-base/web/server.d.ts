import { type Server } from 'node:http';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Broker } from '../broker/broker.ts';
import type { ScriptingHost } from '../scripting/index.ts';
import { type ViewName, type Views } from './views.ts';
export interface WebHandlers {
    broker: Broker;
    views: Views;
    /** Called for each accepted WebSocket at /ws. */
    onSocket: (socket: WebSocket) => void;
    /** Brings the indexes up to date before a one-off read (the feed does it on its tick). */
    beforeRead: (view: ViewName) => void;
    /** For the Scripts view's reload button. */
    scripting?: ScriptingHost | undefined;
}
/** The HTTP side: static page, JSON views, the publish and disconnect actions, the /ws upgrade. */
export declare function createWebServer({ broker, views, onSocket, beforeRead, scripting }: WebHandlers): {
    server: Server;
    wss: WebSocketServer;
};
