import { startTcpListener } from "./tcp.js";
import { startTlsListener } from "./tls.js";
import { startWebSocketListener } from "./websocket.js";
export { checkListenerSpec, listenersFromShorthands, parseListenerSpecs } from "./config.js";
export { attachMqttWebSocket } from "./websocket.js";
const running = new WeakMap();
/** The extra listeners started for a broker by startListeners (its own TCP listener not included). */
export function listenersOf(broker) {
    return running.get(broker) ?? [];
}
/**
 * Starts every listener in `specs` next to the broker's own TCP listener and registers their
 * closing with the broker. All or nothing: when one cannot start, those already started stop.
 * `identities` is needed by listeners that take the user name from the client certificate.
 */
export async function startListeners(broker, specs, identities) {
    const started = [];
    try {
        for (const spec of specs) {
            const listener = await startListener(broker, spec, identities);
            started.push(listener);
            broker.logger.info({ listener: listener.name, host: spec.host ?? broker.options.host, port: listener.port }, `${listener.type.toUpperCase()} listener started`);
        }
    }
    catch (error) {
        await Promise.all(started.map((listener) => listener.close()));
        throw error;
    }
    running.set(broker, [...(running.get(broker) ?? []), ...started]);
    broker.addCloseHook(async () => {
        await Promise.all(started.map((listener) => listener.close()));
    });
    return started;
}
function startListener(broker, spec, identities) {
    switch (spec.type) {
        case 'tcp':
            return startTcpListener(broker, spec);
        case 'tls':
            return startTlsListener(broker, spec, identities);
        case 'ws':
        case 'wss':
            return startWebSocketListener(broker, spec, identities);
    }
}
//# sourceMappingURL=index.js.map