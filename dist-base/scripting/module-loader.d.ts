/**
 * VM side of script imports: the module normalizer and loader of one script version. Modules
 * come from the map the host read before the load; an import that breaks the rules or names
 * no file of that map fails the load with the location of its import statement.
 */
import type { JSModuleLoader, JSModuleNormalizer } from 'quickjs-emscripten';
import type { ScriptError } from './protocol.ts';
export declare class ScriptImports {
    private readonly entry;
    private readonly entryCode;
    private readonly sources;
    /** Why each rejected import failed, by the name normalize gave it. */
    private readonly rejected;
    /** The first import of each module, to point at when it cannot be loaded. */
    private readonly firstImport;
    /** Load failures by message, to put back the location QuickJS does not keep for them. */
    private readonly failures;
    constructor(entry: string, entryCode: string, sources: ReadonlyMap<string, string>);
    /** True for the script and each module it may load: the files its stack frames can name. */
    readonly isOwnFile: (name: string) => boolean;
    readonly normalize: JSModuleNormalizer;
    readonly load: JSModuleLoader;
    /**
     * QuickJS reports a failed import without a location; this gives it the `file:line:column`
     * of the import statement. Other errors come back unchanged.
     */
    locate(error: ScriptError): ScriptError;
    private fail;
}
