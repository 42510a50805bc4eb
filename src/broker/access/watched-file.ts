import { readFile } from 'node:fs/promises'
import { type FSWatcher, watch } from 'chokidar'
import type { Logger } from 'pino'

/** Several quick writes (an editor's save, a script) end in one reload. */
const settleMs = 50

/**
 * A config file kept parsed in memory and re-read, asynchronously, whenever it changes. A
 * reload that fails to read or parse is logged and the last good contents stay in force, so a
 * typo in the ACL never opens or closes the broker by accident.
 */
export class WatchedFile<T> {
  private watcher: FSWatcher | undefined
  private timer: NodeJS.Timeout | undefined
  private reloading: Promise<void> | undefined
  private again = false
  private readonly listeners: ((next: T, previous: T) => void)[] = []

  private constructor(
    readonly path: string,
    private readonly what: string,
    private readonly parse: (text: string) => T,
    private readonly logger: Logger,
    public value: T,
  ) {}

  /** Reads and parses the file once (errors reject, naming it), then starts watching. */
  static async open<T>(
    path: string,
    what: string,
    parse: (text: string) => T,
    logger: Logger,
  ): Promise<WatchedFile<T>> {
    let value: T
    try {
      value = parse(await readFile(path, 'utf8'))
    } catch (error) {
      throw new Error(`${what} ${path}: ${error instanceof Error ? error.message : String(error)}`)
    }
    const file = new WatchedFile(path, what, parse, logger, value)
    await file.watch()
    return file
  }

  /** Called after each successful reload with the new and the previous contents. */
  onChange(listener: (next: T, previous: T) => void): void {
    this.listeners.push(listener)
  }

  async close(): Promise<void> {
    clearTimeout(this.timer)
    await this.watcher?.close()
    this.watcher = undefined
    await this.reloading
  }

  private async watch(): Promise<void> {
    // `atomic` folds write-temp-then-rename saves (and mosquitto_passwd's) into one change.
    const watcher = watch(this.path, { ignoreInitial: true, atomic: true })
    watcher.on('add', this.schedule)
    watcher.on('change', this.schedule)
    watcher.on('unlink', () =>
      this.logger.warn({ file: this.path }, `${this.what} removed; keeping its last contents`),
    )
    watcher.on('error', (error) =>
      this.logger.error({ err: error, file: this.path }, `cannot watch ${this.what}`),
    )
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()))
    this.watcher = watcher
  }

  private readonly schedule = (): void => {
    clearTimeout(this.timer)
    this.timer = setTimeout(() => this.reload(), settleMs)
  }

  private reload(): void {
    if (this.reloading) {
      this.again = true
      return
    }
    this.reloading = this.load().finally(() => {
      this.reloading = undefined
      if (this.again) {
        this.again = false
        this.reload()
      }
    })
  }

  private async load(): Promise<void> {
    let next: T
    try {
      next = this.parse(await readFile(this.path, 'utf8'))
    } catch (error) {
      this.logger.error(
        { err: error, file: this.path },
        `cannot reload ${this.what}; keeping its last contents`,
      )
      return
    }
    this.replace(next)
  }

  /**
   * Puts contents read elsewhere in force, as a reload of the file would (logged, listeners
   * called): for a reload that reads every file before applying any (SIGHUP, src/ops/reload.ts).
   */
  replace(next: T): void {
    const previous = this.value
    this.value = next
    this.logger.info({ file: this.path }, `${this.what} reloaded`)
    for (const listener of this.listeners) listener(next, previous)
  }
}
