import { pino } from 'pino';
import pretty from 'pino-pretty';
/**
 * Readable lines in a terminal, JSON lines otherwise (for log collectors). The pretty printer
 * runs in-process rather than as a pino transport so no worker thread is spawned per broker.
 */
export function createLogger(level = 'info', destination = process.stdout) {
    const isTty = destination.isTTY === true;
    if (!isTty)
        return pino({ level, base: undefined }, destination);
    return pino({ level, base: undefined }, pretty({ colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname', destination }));
}
//# sourceMappingURL=log.js.map