import { DeviceIndex } from "./devices.js";
import { Feed } from "./feed.js";
import { DiscoveryIndex } from "./homeassistant.js";
import { Recorder } from "./recorder.js";
import { createWebServer } from "./server.js";
import { TopicModel } from "./topic-model.js";
import { Views } from "./views.js";
export { ScriptLog, scriptBrokerWithLog } from "./script-log.js";
const running = new WeakMap();
/** The dashboard started for a broker, if any. */
export function webOf(broker) {
    return running.get(broker);
}
/** Starts the dashboard next to a running broker and registers its closing with the broker. */
export async function startWeb(broker, options) {
    const model = new TopicModel();
    const devices = new DeviceIndex(model);
    const discovery = new DiscoveryIndex(model);
    const recorder = new Recorder(broker, model, discovery, options.lingerMs ?? 60_000, options.recordBudget ?? 10_000);
    let port = options.port;
    const views = new Views({
        broker,
        model,
        devices,
        discovery,
        recorder,
        scripting: options.scripting,
        scriptLog: options.scriptLog,
        httpHost: options.host ?? broker.options.host,
        httpPort: () => port,
    });
    const feed = new Feed(broker, model, recorder, views, options.intervalMs ?? 250);
    const { server, wss } = createWebServer({
        broker,
        views,
        onSocket: (ws) => feed.add(ws),
        beforeRead: (view) => {
            // A reader without a page sees the retained topics now, and live ones on its next reads.
            if (view === 'topics')
                recorder.read();
            model.ingest();
        },
        scripting: options.scripting,
    });
    const unsubscribe = () => recorder.close();
    model.ingest();
    const host = options.host ?? broker.options.host;
    try {
        await new Promise((resolve, reject) => {
            server.once('error', reject);
            server.listen(options.port, host, () => {
                server.off('error', reject);
                resolve();
            });
        });
    }
    catch (error) {
        unsubscribe();
        feed.close();
        throw error;
    }
    port = server.address().port;
    broker.logger.info({ host, port }, 'dashboard listening');
    let closing;
    const dashboard = {
        port,
        get pages() {
            return feed.size;
        },
        get recording() {
            return recorder.recording;
        },
        close() {
            closing ??= (async () => {
                unsubscribe();
                feed.close();
                wss.close();
                const closed = new Promise((resolve) => server.close(() => resolve()));
                server.closeAllConnections();
                await closed;
                running.delete(broker);
            })();
            return closing;
        },
    };
    running.set(broker, dashboard);
    broker.addCloseHook(() => dashboard.close());
    return dashboard;
}
//# sourceMappingURL=index.js.map