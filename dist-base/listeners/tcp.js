import { createServer } from 'node:net';
import { bind, limitConnections, stopAccepting } from "./server.js";
/** An extra plain MQTT listener (the broker's own TCP listener is `port`). */
export async function startTcpListener(broker, spec) {
    let name = `tcp:${spec.port}`;
    const server = createServer((socket) => broker.accept(socket, name));
    limitConnections(server, spec.maxConnections, name, broker.logger);
    const port = await bind(server, spec.port, spec.host ?? broker.options.host);
    name = `tcp:${port}`;
    server.on('error', (error) => broker.logger.error({ err: error, listener: name }, 'listener error'));
    return { type: 'tcp', name, port, close: async () => stopAccepting(server) };
}
//# sourceMappingURL=tcp.js.map