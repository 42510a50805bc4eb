import { applyCertificateUsername } from "./certificate-username.js";
import { commonName } from "./server.js";
/**
 * Hands a client stream to the broker. `tlsSocket` is the TLS connection underneath (the stream
 * itself for TLS, the upgraded socket for WSS), whose certificate may name the user.
 */
export function admit(context, stream, tlsSocket) {
    const { broker, name } = context;
    if (context.closed) {
        stream.destroy();
        return;
    }
    if (!context.identities) {
        broker.accept(stream, name);
        return;
    }
    const log = { listener: name, address: stream.remoteAddress };
    const username = tlsSocket?.authorized ? commonName(tlsSocket.getPeerCertificate().subject) : undefined;
    if (username === undefined) {
        broker.logger.warn(log, 'connection refused: no verified client certificate with a CN');
        stream.destroy();
        return;
    }
    // Until the broker owns the stream, its errors are ours to swallow; 'close' follows.
    const onError = (error) => broker.logger.debug({ ...log, err: error }, 'connection error before CONNECT');
    stream.on('error', onError);
    context.pending.add(stream);
    applyCertificateUsername(stream, username, context.identities, {
        maxPacketSize: broker.options.maxPacketSize,
        timeoutMs: broker.options.connectTimeout * 1000,
    }).then(() => {
        context.pending.delete(stream);
        stream.off('error', onError);
        if (context.closed) {
            stream.destroy();
            return;
        }
        broker.logger.debug({ ...log, username }, 'client certificate CN used as the user name');
        broker.accept(stream, name);
        stream.resume();
    }, (error) => {
        context.pending.delete(stream);
        broker.logger.warn({ ...log, username }, `connection closed: ${error instanceof Error ? error.message : error}`);
        stream.destroy();
    });
}
/** Closes the streams a listener has not handed over yet. */
export function dropPending(context) {
    context.closed = true;
    for (const stream of context.pending)
        stream.destroy();
    context.pending.clear();
}
//# sourceMappingURL=admit.js.map