import { locationOf, resolveImport, scanImports } from "./import-specifiers.js";
/** Stands for a rejected import between normalize and load; never a real module name (no .js). */
const REJECTED = '<rejected import ';
export class ScriptImports {
    entry;
    entryCode;
    sources;
    /** Why each rejected import failed, by the name normalize gave it. */
    rejected = new Map();
    /** The first import of each module, to point at when it cannot be loaded. */
    firstImport = new Map();
    /** Load failures by message, to put back the location QuickJS does not keep for them. */
    failures = new Map();
    constructor(entry, entryCode, sources) {
        this.entry = entry;
        this.entryCode = entryCode;
        this.sources = sources;
    }
    /** True for the script and each module it may load: the files its stack frames can name. */
    isOwnFile = (name) => name === this.entry || this.sources.has(name);
    normalize = (importer, specifier) => {
        const resolved = resolveImport(importer, specifier);
        if ('name' in resolved) {
            if (!this.firstImport.has(resolved.name))
                this.firstImport.set(resolved.name, { importer, specifier });
            return resolved.name;
        }
        // quickjs-emscripten drops a normalizer's error; the loader reports it instead.
        const key = `${REJECTED}${this.rejected.size}>`;
        this.rejected.set(key, { importer, specifier, problem: resolved.problem });
        return key;
    };
    load = (name) => {
        const source = this.sources.get(name);
        if (source !== undefined)
            return source;
        const rejected = this.rejected.get(name);
        if (rejected)
            return { error: this.fail(rejected.importer, rejected.specifier, rejected.problem) };
        const first = this.firstImport.get(name);
        const importer = first?.importer ?? this.entry;
        const specifier = first?.specifier ?? name;
        return { error: this.fail(importer, specifier, `cannot import '${specifier}': ${name} not found`) };
    };
    /**
     * QuickJS reports a failed import without a location; this gives it the `file:line:column`
     * of the import statement. Other errors come back unchanged.
     */
    locate(error) {
        const where = this.failures.get(error.message);
        return where !== undefined && !error.where.includes(':') ? { ...error, where } : error;
    }
    fail(importer, specifier, problem) {
        const code = importer === this.entry ? this.entryCode : this.sources.get(importer);
        const site = code === undefined ? undefined : scanImports(code).find((s) => s.specifier === specifier);
        this.failures.set(problem, code !== undefined && site ? locationOf(importer, code, site.index) : importer);
        return new Error(problem);
    }
}
//# sourceMappingURL=module-loader.js.map