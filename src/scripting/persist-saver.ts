import type { Logger } from 'pino'
import type { ScriptError } from './error-location.ts'
import type { ScriptBroker } from './host-interfaces.ts'

/**
 * How long after a call that may have changed `persist` it is read and saved. A call only marks
 * it; the JSON is made once per this period however many calls ran, and `kill -9` loses at most
 * this much (plus the store's commit, milliseconds).
 */
export const PERSIST_SAVE_DELAY_MS = 300

/** What a saver needs from its VM. */
export interface PersistIo {
  /** The guest's `persist` as JSON (under the VM's CPU limit); undefined when the VM is gone. */
  read(): { json: string } | { error: ScriptError } | undefined
  /** Hands changed JSON to the host, which stores it under the script's name. */
  save(json: string): void
  logError(message: string, error?: ScriptError): void
}

/**
 * Saves one VM's `persist` when it changed: at most once per PERSIST_SAVE_DELAY_MS after a
 * call, and once more when the VM goes. Compares with the JSON saved last, so a script whose
 * state did not change costs one JSON.stringify per period, no message and no write.
 */
export class PersistSaver {
  private timer: NodeJS.Timeout | undefined
  private owner = true
  /** The JSON of the last refusal (too big, not serialisable), so it is logged once, not every period. */
  private refused: string | undefined

  constructor(
    private readonly io: PersistIo,
    /** The JSON saved last (or restored at load); undefined: nothing stored yet. */
    private saved: string | undefined,
    private readonly maxBytes: number,
  ) {}

  get lastSaved(): string | undefined {
    return this.saved
  }

  /** A call ran and may have changed `persist`. */
  touch(): void {
    if (this.timer || !this.owner) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.flush()
    }, PERSIST_SAVE_DELAY_MS)
  }

  /** Saves now if changed; returns the JSON saved last. */
  flush(): string | undefined {
    this.cancel()
    if (!this.owner) return this.saved
    const read = this.io.read()
    if (!read) return this.saved
    if ('error' in read) {
      const key = `error:${read.error.message}`
      if (key !== this.refused) {
        this.refused = key
        this.io.logError('persist not saved', read.error)
      }
      return this.saved
    }
    const { json } = read
    if (json === this.saved) return this.saved
    const bytes = Buffer.byteLength(json)
    if (bytes > this.maxBytes) {
      if (json !== this.refused) {
        this.refused = json
        this.io.logError(
          `persist not saved: ${bytes} bytes of JSON is above the limit of ${this.maxBytes} bytes (maxPersistBytes); the last saved state stays`,
        )
      }
      return this.saved
    }
    this.refused = undefined
    this.saved = json
    this.io.save(json)
    return json
  }

  /** A new version of the script took the state over: this one saves no more. */
  release(): void {
    this.owner = false
    this.cancel()
  }

  cancel(): void {
    clearTimeout(this.timer)
    this.timer = undefined
  }
}

/** Hands a script's saved `persist` JSON to the broker's store, on the host's thread. */
export function storePersist(broker: ScriptBroker, log: Logger, name: string, json: string): void {
  try {
    broker.putScriptState?.(name, json)
  } catch (e) {
    // A store already closed (an embedder that closed the broker first) must not break the host.
    log.error({ err: e, script: name }, 'persist not saved: the store refused it')
    return
  }
  log.debug({ script: name, bytes: Buffer.byteLength(json) }, 'persist saved')
}
