export interface ModuleGraph {
    /** Source of every module found, by folder-relative name. */
    sources: Map<string, string>;
    /**
     * Every module name the script's import statements resolve to, including ones that did not
     * exist when read: a change to any of them (creating it too) reloads the script.
     */
    names: Set<string>;
}
/** Reads the modules `code` (the script `entry` in `dir`) imports, level by level, in parallel. */
export declare function readModuleGraph(dir: string, entry: string, code: string): Promise<ModuleGraph>;
/** Hash of a script together with its modules: a change to either one is a new version. */
export declare function loadHash(code: string, sources: ReadonlyMap<string, string>): string;
