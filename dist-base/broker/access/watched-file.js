import { readFile } from 'node:fs/promises';
import { watch } from 'chokidar';
/** Several quick writes (an editor's save, a script) end in one reload. */
const settleMs = 50;
/**
 * A config file kept parsed in memory and re-read, asynchronously, whenever it changes. A
 * reload that fails to read or parse is logged and the last good contents stay in force, so a
 * typo in the ACL never opens or closes the broker by accident.
 */
export class WatchedFile {
    path;
    what;
    parse;
    logger;
    value;
    watcher;
    timer;
    reloading;
    again = false;
    listeners = [];
    constructor(path, what, parse, logger, value) {
        this.path = path;
        this.what = what;
        this.parse = parse;
        this.logger = logger;
        this.value = value;
    }
    /** Reads and parses the file once (errors reject, naming it), then starts watching. */
    static async open(path, what, parse, logger) {
        let value;
        try {
            value = parse(await readFile(path, 'utf8'));
        }
        catch (error) {
            throw new Error(`${what} ${path}: ${error instanceof Error ? error.message : String(error)}`);
        }
        const file = new WatchedFile(path, what, parse, logger, value);
        await file.watch();
        return file;
    }
    /** Called after each successful reload with the new and the previous contents. */
    onChange(listener) {
        this.listeners.push(listener);
    }
    async close() {
        clearTimeout(this.timer);
        await this.watcher?.close();
        this.watcher = undefined;
        await this.reloading;
    }
    async watch() {
        // `atomic` folds write-temp-then-rename saves (and mosquitto_passwd's) into one change.
        const watcher = watch(this.path, { ignoreInitial: true, atomic: true });
        watcher.on('add', this.schedule);
        watcher.on('change', this.schedule);
        watcher.on('unlink', () => this.logger.warn({ file: this.path }, `${this.what} removed; keeping its last contents`));
        watcher.on('error', (error) => this.logger.error({ err: error, file: this.path }, `cannot watch ${this.what}`));
        await new Promise((resolve) => watcher.once('ready', () => resolve()));
        this.watcher = watcher;
    }
    schedule = () => {
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.reload(), settleMs);
    };
    reload() {
        if (this.reloading) {
            this.again = true;
            return;
        }
        this.reloading = this.load().finally(() => {
            this.reloading = undefined;
            if (this.again) {
                this.again = false;
                this.reload();
            }
        });
    }
    async load() {
        let next;
        try {
            next = this.parse(await readFile(this.path, 'utf8'));
        }
        catch (error) {
            this.logger.error({ err: error, file: this.path }, `cannot reload ${this.what}; keeping its last contents`);
            return;
        }
        const previous = this.value;
        this.value = next;
        this.logger.info({ file: this.path }, `${this.what} reloaded`);
        for (const listener of this.listeners)
            listener(next, previous);
    }
}
//# sourceMappingURL=watched-file.js.map