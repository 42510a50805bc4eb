import { type Logger } from 'pino';
/**
 * Readable lines in a terminal, JSON lines otherwise (for log collectors). The pretty printer
 * runs in-process rather than as a pino transport so no worker thread is spawned per broker.
 */
export declare function createLogger(level?: string, destination?: NodeJS.WritableStream): Logger;
