import { type ScriptSource } from './script-files.ts';
/**
 * Watches the script folder and reports a file, by its folder-relative name (`autoexec.js`,
 * `lib/util.js`), once it has been quiet for `debounceMs`. Every editor save style (in place,
 * truncate-then-write, temp file and rename, several quick writes) is just a burst of events
 * here; the caller re-reads the file and compares contents, so a burst ends in at most one
 * reload with the final bytes.
 *
 * A folder of scripts is watched with its subfolders, since any `.js`/`.mjs` file in it may be
 * a module that scripts import. A single script file's folder may be any folder (the working
 * directory, for ./autoexec.js), so there only the script and the modules named through
 * watchModules() are watched.
 */
export declare class ScriptWatcher {
    private readonly watcher;
    private readonly root;
    /**
     * Absolute paths of the modules watched one by one, and of their folders below the root
     * (watched too, as a module or its folder may not exist yet); undefined when the whole tree
     * is watched.
     */
    private readonly modules;
    private readonly debounceMs;
    private readonly onSettled;
    private readonly pending;
    private closed;
    private constructor();
    static start(source: ScriptSource, debounceMs: number, onSettled: (name: string) => void): Promise<ScriptWatcher>;
    /** Makes sure the modules a script imports (folder-relative names) are watched. */
    watchModules(names: Iterable<string>): void;
    private touch;
    close(): Promise<void>;
}
