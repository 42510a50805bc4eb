import { installFileAccess } from "./broker/access/index.js";
import { Broker } from "./broker/broker.js";
import { startListeners } from "./listeners/index.js";
import { startScripting } from "./scripting/index.js";
import { LmdbStore } from "./store/lmdb.js";
import { startWeb } from "./web/index.js";
import { ScriptLog, scriptBrokerWithLog } from "./web/script-log.js";
export { Broker } from "./broker/broker.js";
export { listenersOf } from "./listeners/index.js";
export { DataDirError } from "./store/errors.js";
export { LmdbStore } from "./store/lmdb.js";
export { MemoryStore } from "./store/memory.js";
export { startWeb, webOf } from "./web/index.js";
/**
 * Starts a broker, and its scripting host when `scripts` is given; resolves once it is
 * listening and the scripts are loaded (the counterpart of mosq_broker_run).
 */
export async function startBroker(options = {}) {
    // Opened before the broker so a locked or unreadable data directory stops start-up here.
    const ownStore = options.store === undefined && options.data !== undefined && !options.memory
        ? await LmdbStore.open(options.data)
        : undefined;
    const broker = new Broker(ownStore ? { ...options, store: ownStore, ownsStore: true } : options);
    const certificateUsers = options.listeners?.some((l) => 'useIdentityAsUsername' in l && l.useIdentityAsUsername);
    const access = await installFileAccess(broker, { ...options, certificateUsers }).catch(async (error) => {
        await ownStore?.close();
        throw error;
    });
    try {
        await broker.start();
    }
    catch (error) {
        await access?.close();
        await ownStore?.close();
        throw error;
    }
    if (options.listeners !== undefined && options.listeners.length > 0) {
        try {
            await startListeners(broker, options.listeners, access?.identities);
        }
        catch (error) {
            await broker.close();
            throw error;
        }
    }
    let scriptingHost;
    // With the dashboard, the scripting host's log lines are also kept for its Scripts view.
    const scriptLog = options.http !== undefined ? new ScriptLog() : undefined;
    if (options.scripts !== undefined) {
        const scripting = typeof options.scripts === 'string' ? { path: options.scripts } : options.scripts;
        try {
            const host = await startScripting(scriptLog ? scriptBrokerWithLog(broker, scriptLog) : broker, scripting);
            broker.addCloseHook(() => host.close());
            scriptingHost = host;
        }
        catch (error) {
            await broker.close();
            throw error;
        }
    }
    if (options.http !== undefined) {
        try {
            // Registers its own close hook; started last, so it is the first thing closed.
            await startWeb(broker, { port: options.http, scripting: scriptingHost, scriptLog });
        }
        catch (error) {
            await broker.close();
            throw error;
        }
    }
    return broker;
}
//# sourceMappingURL=index.js.map