export type ResolvedImport = {
    name: string;
} | {
    problem: string;
};
export interface ImportSite {
    specifier: string;
    /** Index of the opening quote in the source. */
    index: number;
}
export declare function scanImports(code: string): ImportSite[];
/** Resolves `specifier` imported by the module `importer` (a folder-relative name). */
export declare function resolveImport(importer: string, specifier: string): ResolvedImport;
/** `file:line:column` (1-based, as QuickJS reports them) of `index` in `code`. */
export declare function locationOf(file: string, code: string, index: number): string;
