/** Where scripts come from: every script file directly in `dir`, or just `only` in it. */
export interface ScriptSource {
    dir: string;
    only?: string | undefined;
}
export interface ScriptFile {
    /** The name scripts are known by in logs and error locations: the file name. */
    name: string;
    file: string;
}
/**
 * Script files: `.js` / `.mjs`, not hidden (editor swap and backup files start with a dot or end
 * in `~`), and not starting with `_`: those are modules for scripts to import, never run alone
 * (as is every file in a subfolder, such as lib/).
 */
export declare function isScriptName(name: string): boolean;
export declare function resolveScriptSource(path: string): Promise<ScriptSource>;
export declare function belongsTo(source: ScriptSource, name: string): boolean;
export declare function listScripts(source: ScriptSource): Promise<ScriptFile[]>;
