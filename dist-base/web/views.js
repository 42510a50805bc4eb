import { listenersOf } from "../listeners/index.js";
export const VIEWS = ['broker', 'clients', 'topics', 'scripts', 'ha'];
export const PAGE_SIZE = 100;
/** Validates a request from the WebSocket or the query string; anything odd falls back to a default. */
export function parseViewRequest(input) {
    const view = VIEWS.includes(input.view) ? input.view : 'broker';
    const offset = Number(input.offset);
    const expanded = Array.isArray(input.expanded)
        ? input.expanded.filter((e) => typeof e === 'string').slice(0, 1000)
        : typeof input.expanded === 'string' && input.expanded !== ''
            ? input.expanded.split(',')
            : [];
    return {
        view,
        offset: Number.isInteger(offset) && offset > 0 ? offset : 0,
        filter: typeof input.filter === 'string' ? input.filter.slice(0, 200) : '',
        expanded,
    };
}
/** Builds the data of each view from the broker's API and the dashboard's own indexes. */
export class Views {
    sources;
    last;
    rates = { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 };
    constructor(sources) {
        this.sources = sources;
    }
    build(request) {
        switch (request.view) {
            case 'broker':
                return this.brokerView();
            case 'clients':
                return this.clientsView(request);
            case 'topics':
                return {
                    liveSince: this.sources.recorder.since ?? null,
                    sampling: this.sources.recorder.sampling ?? null,
                    tree: this.sources.model.page({
                        offset: request.offset,
                        limit: PAGE_SIZE,
                        expanded: new Set(request.expanded),
                        filter: request.filter,
                        isRetained: (topic) => this.sources.broker.retainedMessages(topic).length > 0,
                    }),
                    pageSize: PAGE_SIZE,
                    devices: this.sources.devices.list(),
                };
            case 'scripts':
                return {
                    enabled: this.sources.scripting !== undefined,
                    scripts: this.sources.scripting?.scripts() ?? [],
                    log: this.sources.scriptLog?.tail(100) ?? [],
                };
            case 'ha':
                return this.sources.discovery.view();
        }
    }
    brokerView() {
        const { broker } = this.sources;
        const stats = broker.stats();
        this.sampleRates(stats);
        const host = broker.options.host;
        // Extra listeners keep their own bind address, which the Listener interface does not expose.
        const listeners = [
            { name: 'mqtt', type: 'tcp', host, port: broker.port },
            ...listenersOf(broker).map((l) => ({ name: l.name, type: l.type, host: '', port: l.port })),
            { name: 'dashboard', type: 'http', host: this.sources.httpHost, port: this.sources.httpPort() },
        ];
        return { listeners, stats, rates: this.rates, topics: this.sources.model.size };
    }
    /** Rates are deltas of the broker's totals over at least a second, so a fast refresh does not jitter. */
    sampleRates(stats) {
        const now = Date.now();
        const last = this.last;
        if (last !== undefined && now - last.at < 1000)
            return;
        if (last !== undefined) {
            const seconds = (now - last.at) / 1000;
            const rate = (a, b) => Math.round(((a - b) / seconds) * 10) / 10;
            this.rates = {
                messagesIn: rate(stats.messagesIn, last.messagesIn),
                messagesOut: rate(stats.messagesOut, last.messagesOut),
                bytesIn: rate(stats.bytesIn, last.bytesIn),
                bytesOut: rate(stats.bytesOut, last.bytesOut),
            };
        }
        this.last = { at: now, ...pick(stats) };
    }
    clientsView(request) {
        const all = this.sources.broker.clientDetails();
        const needle = request.filter.toLowerCase();
        const matching = needle === ''
            ? all
            : all.filter((c) => c.clientId.toLowerCase().includes(needle) || c.address.includes(needle));
        matching.sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
        return {
            total: all.length,
            matching: matching.length,
            offset: request.offset,
            pageSize: PAGE_SIZE,
            clients: matching.slice(request.offset, request.offset + PAGE_SIZE),
        };
    }
}
function pick(stats) {
    const { messagesIn, messagesOut, bytesIn, bytesOut } = stats;
    return { messagesIn, messagesOut, bytesIn, bytesOut };
}
//# sourceMappingURL=views.js.map