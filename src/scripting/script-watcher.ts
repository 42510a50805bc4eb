import { basename, resolve } from 'node:path'
import { type FSWatcher, watch } from 'chokidar'
import { belongsTo, type ScriptSource } from './script-files.ts'

/**
 * Watches the script folder and reports a script name once its file has been quiet for
 * `debounceMs`. Every editor save style (in place, truncate-then-write, temp file and
 * rename, several quick writes) is just a burst of events here; the caller re-reads the
 * file and compares contents, so a burst ends in at most one reload with the final bytes.
 */
export class ScriptWatcher {
  private readonly pending = new Map<string, NodeJS.Timeout>()
  private closed = false

  private constructor(
    private readonly watcher: FSWatcher,
    private readonly debounceMs: number,
    private readonly onSettled: (name: string) => void,
  ) {}

  static async start(
    source: ScriptSource,
    debounceMs: number,
    onSettled: (name: string) => void,
  ): Promise<ScriptWatcher> {
    const root = resolve(source.dir)
    const watcher = watch(root, {
      depth: 0,
      ignoreInitial: true,
      ignored: (path: string) => resolve(path) !== root && !belongsTo(source, basename(path)),
    })
    const self = new ScriptWatcher(watcher, debounceMs, onSettled)
    for (const event of ['add', 'change', 'unlink'] as const) {
      watcher.on(event, (path: string) => self.touch(basename(path)))
    }
    await new Promise<void>((ready, fail) => {
      watcher.once('ready', ready)
      watcher.once('error', fail)
    })
    return self
  }

  private touch(name: string): void {
    if (this.closed) return
    clearTimeout(this.pending.get(name))
    this.pending.set(
      name,
      setTimeout(() => {
        this.pending.delete(name)
        if (!this.closed) this.onSettled(name)
      }, this.debounceMs),
    )
  }

  async close(): Promise<void> {
    this.closed = true
    for (const t of this.pending.values()) clearTimeout(t)
    this.pending.clear()
    await this.watcher.close()
  }
}
