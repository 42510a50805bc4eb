/** Listens on `port`/`host`; rejects (e.g. EADDRINUSE) without leaving the server half-bound. */
export function bind(server, port, host) {
    return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
            server.off('error', reject);
            const address = server.address();
            resolve(typeof address === 'object' && address ? address.port : port);
        });
    });
}
/**
 * Caps connections at accept, before any TLS or HTTP work is spent on them: Node's own
 * `maxConnections` closes the extra socket at once and reports it with 'drop'.
 */
export function limitConnections(server, max, name, logger) {
    if (max !== undefined)
        server.maxConnections = max;
    server.on('drop', (data) => {
        logger.warn({ listener: name, address: data?.remoteAddress, port: data?.remotePort, maxConnections: max }, 'connection refused: listener at its connection limit');
    });
}
/** Stops accepting. Sockets already handed to the broker stay; the broker closes those. */
export function stopAccepting(server) {
    if (server.listening)
        server.close();
}
/** The CN of a certificate subject (Node gives a string, or an array when it repeats). */
export function commonName(subject) {
    const cn = subject?.CN;
    const value = Array.isArray(cn) ? cn[0] : cn;
    return value === '' ? undefined : value;
}
//# sourceMappingURL=server.js.map