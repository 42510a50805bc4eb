import { resolveOptions } from "./options.js";
import { ScriptRunner } from "./scripting-host.js";
/** Loads the scripts at `options.path`, watches them, and resolves once the initial load has settled. */
export async function startScripting(broker, options) {
    const runner = new ScriptRunner(broker, resolveOptions(options));
    try {
        await runner.start();
    }
    catch (error) {
        await runner.close();
        throw error;
    }
    return runner;
}
//# sourceMappingURL=index.js.map