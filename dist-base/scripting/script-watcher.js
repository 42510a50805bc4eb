import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { watch } from 'chokidar';
import { belongsTo } from "./script-files.js";
/** Hidden entries (editor temp files, .git) and installed packages are never scripts or modules. */
function isSkipped(segment) {
    return segment.startsWith('.') || segment === 'node_modules';
}
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
export class ScriptWatcher {
    watcher;
    root;
    modules;
    debounceMs;
    onSettled;
    pending = new Map();
    closed = false;
    constructor(watcher, root, 
    /**
     * Absolute paths of the modules watched one by one, and of their folders below the root
     * (watched too, as a module or its folder may not exist yet); undefined when the whole tree
     * is watched.
     */
    modules, debounceMs, onSettled) {
        this.watcher = watcher;
        this.root = root;
        this.modules = modules;
        this.debounceMs = debounceMs;
        this.onSettled = onSettled;
    }
    static async start(source, debounceMs, onSettled) {
        const root = resolve(source.dir);
        const single = source.only !== undefined;
        const modules = single ? new Set() : undefined;
        const watcher = watch(root, {
            depth: single ? 0 : undefined,
            ignoreInitial: true,
            ignored: (path, stats) => {
                const full = resolve(path);
                if (full === root || modules?.has(full))
                    return false;
                if (modules)
                    return dirname(full) !== root || !belongsTo(source, basename(full));
                if (relative(root, full).split(sep).some(isSkipped))
                    return true;
                return stats?.isFile() === true && !full.endsWith('.js') && !full.endsWith('.mjs');
            },
        });
        const self = new ScriptWatcher(watcher, root, modules, debounceMs, onSettled);
        // chokidar does not wait for a path that does not exist: a module's folder that appears is
        // watched from then on, so the module appearing in it is seen.
        watcher.on('addDir', (path) => {
            if (modules?.has(resolve(path)))
                watcher.add(resolve(path));
        });
        for (const event of ['add', 'change', 'unlink']) {
            watcher.on(event, (path) => self.touch(relative(root, resolve(path)).split(sep).join('/')));
        }
        await new Promise((ready, fail) => {
            watcher.once('ready', ready);
            watcher.once('error', fail);
        });
        return self;
    }
    /** Makes sure the modules a script imports (folder-relative names) are watched. */
    watchModules(names) {
        if (!this.modules || this.closed)
            return;
        for (const name of names) {
            const parts = name.split('/');
            for (let i = 1; i <= parts.length; i++) {
                const full = join(this.root, ...parts.slice(0, i));
                if (this.modules.has(full))
                    continue;
                this.modules.add(full);
                this.watcher.add(full);
            }
        }
    }
    touch(name) {
        if (this.closed)
            return;
        clearTimeout(this.pending.get(name));
        this.pending.set(name, setTimeout(() => {
            this.pending.delete(name);
            if (!this.closed)
                this.onSettled(name);
        }, this.debounceMs));
    }
    async close() {
        this.closed = true;
        for (const t of this.pending.values())
            clearTimeout(t);
        this.pending.clear();
        await this.watcher.close();
    }
}
//# sourceMappingURL=script-watcher.js.map