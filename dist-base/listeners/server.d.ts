import type { Server } from 'node:net';
import type { Logger } from 'pino';
/** Listens on `port`/`host`; rejects (e.g. EADDRINUSE) without leaving the server half-bound. */
export declare function bind(server: Server, port: number, host: string): Promise<number>;
/**
 * Caps connections at accept, before any TLS or HTTP work is spent on them: Node's own
 * `maxConnections` closes the extra socket at once and reports it with 'drop'.
 */
export declare function limitConnections(server: Server, max: number | undefined, name: string, logger: Logger): void;
/** Stops accepting. Sockets already handed to the broker stay; the broker closes those. */
export declare function stopAccepting(server: Server): void;
/** The CN of a certificate subject (Node gives a string, or an array when it repeats). */
export declare function commonName(subject: {
    CN?: string | string[];
} | undefined): string | undefined;
