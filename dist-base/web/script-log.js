const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace']);
const ALWAYS = new Set(['fatal', 'error', 'warn', 'info']);
/** The last `capacity` lines of the scripting host's log, for the Scripts view's live tail. */
export class ScriptLog {
    capacity;
    lines = [];
    seq = 0;
    constructor(capacity = 200) {
        this.capacity = capacity;
    }
    /** Bumped on every line, so the feed knows when the Scripts view changed. */
    get generation() {
        return this.seq;
    }
    add(level, args) {
        const [first, second] = args;
        let script;
        let msg = typeof first === 'string' ? first : typeof second === 'string' ? second : '';
        if (typeof first === 'object' && first !== null) {
            const fields = first;
            if (typeof fields.script === 'string')
                script = fields.script;
            if (msg === '' && fields.err instanceof Error)
                msg = fields.err.message;
        }
        if (msg === '')
            return;
        this.lines.push({ seq: ++this.seq, at: Date.now(), level, script, msg });
        if (this.lines.length > this.capacity)
            this.lines.shift();
    }
    tail(limit = 100) {
        return this.lines.slice(-limit);
    }
}
/**
 * A logger that writes through to `logger` and keeps each line in `log` as well; its children
 * do the same. A Proxy, so it stays a full pino Logger for the scripting host.
 */
export function teeLogger(logger, log) {
    return new Proxy(logger, {
        get(target, prop, receiver) {
            const value = Reflect.get(target, prop, receiver);
            if (typeof value !== 'function')
                return value;
            // A child differs from its parent only in pino's custom-level type parameter.
            if (prop === 'child') {
                return (...args) => teeLogger(target.child(...args), log);
            }
            if (typeof prop === 'string' && LEVELS.has(prop)) {
                return (...args) => {
                    // The tail shows scripts' output whatever the broker's log level; debug/trace only when enabled.
                    if (ALWAYS.has(prop) || target.isLevelEnabled(prop))
                        log.add(prop, args);
                    return value.apply(target, args);
                };
            }
            return value.bind(target);
        },
    });
}
/**
 * The broker as the scripting host sees it, with a logger that also feeds the dashboard's log
 * tail. Everything else goes straight to the broker.
 */
export function scriptBrokerWithLog(broker, log) {
    const logger = teeLogger(broker.logger, log);
    return {
        logger,
        publish: (input) => broker.publish(input),
        subscribe: (filter, handler) => broker.subscribe(filter, handler),
        setCredentials: (user, pass) => broker.setCredentials(user, pass),
        get auth() {
            return broker.auth;
        },
        listen: (port) => broker.listen(port),
        get port() {
            return broker.port;
        },
        lastValue: (topic) => broker.lastValue(topic),
        useLastValues: () => broker.useLastValues(),
        loadScriptStates: () => broker.loadScriptStates(),
        putScriptState: (name, json) => broker.putScriptState(name, json),
    };
}
//# sourceMappingURL=script-log.js.map