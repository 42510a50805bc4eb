/**
 * The scripts' `persist` while they run clustered: one KV key per script in the scripts
 * bucket, so the node that takes the scripts over after a failover starts them with the state
 * the previous holder saved. Writes are sent in call order on the node's one connection, so
 * the server keeps the last one; `flush` waits for those still on their way.
 */
import type { KV } from '@nats-io/kv'
import type { Logger } from 'pino'
import { liveEntry } from './kv-util.ts'
import type { ClusterNames } from './names.ts'
import type { NatsConnection } from './nats-connection.ts'
import { levelToToken, tokenToLevel } from './subjects.ts'

export class ScriptStates {
  private readonly pending = new Set<Promise<unknown>>()

  private constructor(
    private readonly kv: KV,
    private readonly logger: Logger,
  ) {}

  static async open(
    conn: NatsConnection,
    names: ClusterNames,
    logger: Logger,
    replicas?: number,
  ): Promise<ScriptStates> {
    const kv = await conn.kv(names.scriptsBucket, { history: 1, ...(replicas ? { replicas } : {}) })
    return new ScriptStates(kv, logger)
  }

  /** Every script's saved state, by script name. */
  async load(): Promise<Map<string, string>> {
    const out = new Map<string, string>()
    for await (const key of await this.kv.keys()) {
      const name = tokenToLevel(key)
      const entry = name === undefined ? undefined : liveEntry(await this.kv.get(key))
      if (name !== undefined && entry) out.set(name, entry.string())
    }
    return out
  }

  /** Saves (or with undefined, forgets) a script's state; a failure is logged, the script goes on. */
  put(name: string, json: string | undefined): void {
    const key = levelToToken(name)
    const write = json === undefined ? this.kv.delete(key) : this.kv.put(key, json)
    const tracked = write.catch((error: unknown) => {
      this.logger.warn({ err: error, script: name }, 'cluster: could not save a script state')
    })
    this.pending.add(tracked)
    void tracked.finally(() => this.pending.delete(tracked))
  }

  /** Resolves once every write sent so far has been answered. */
  async flush(): Promise<void> {
    await Promise.all([...this.pending])
  }
}
