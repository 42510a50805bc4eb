import type { Logger } from 'pino'
import type { LastValue } from '../broker/last-values.ts'
import type { MessageHandler, PublishInput } from '../broker/types.ts'
import type { ConsoleReply } from './script-console.ts'
import type { ScriptSource } from './script-files.ts'
import type { ScriptStatus } from './script-status.ts'

/* The scripting host's two seams: what it needs of the broker, and what it offers its embedder. */

/** The part of the broker the scripting host uses. */
export interface ScriptBroker {
  readonly logger: Logger
  publish(input: PublishInput): Promise<void>
  subscribe(filter: string, handler: MessageHandler): () => void
  setCredentials(user: string | undefined, pass: string | undefined): void
  /** When present, the user configured at start, so ms_pass alone keeps it. */
  readonly auth?: { readonly username: string | undefined; readonly password?: string | undefined }
  listen(port: number): Promise<number>
  readonly port: number
  /** ms_get reads the broker's last-value cache, which useLastValues turns on; without them ms_get finds nothing. */
  lastValue?(topic: string): LastValue | undefined
  useLastValues?(): void
  /** Where each script's `persist` is kept; without them it lasts only as long as the host. */
  loadScriptStates?(): Promise<Map<string, string>>
  putScriptState?(name: string, json: string | undefined): void
}

export interface ScriptingHost {
  /** Runs every script's deinit(), disposes the VMs, drops their subscriptions, stops watching. Idempotent. */
  close(): Promise<void>
  scripts(): ScriptStatus[]
  /**
   * Loads a script again from its file even when the content is unchanged (a fresh VM, its
   * top level and init() run again; on failure the running version stays). False when no
   * script has that name.
   */
  reload(name: string): Promise<boolean>
  /**
   * Brings a file in line now, as the watcher does after a change (for a module: every script
   * that imports it), and resolves once that load has settled with the status of the scripts it
   * concerns; a deleted script is no longer among them. For a writer that wants the outcome of
   * its write (the dashboard's editor).
   */
  refresh(name: string): Promise<ScriptStatus[]>
  /** The scripts folder (and, for a single script, its file name); undefined before start. */
  scriptSource(): ScriptSource | undefined
  /**
   * Evaluates `expression` inside the running version of the script (the dashboard console):
   * it sees the script's module scope, `persist` and the globals, and runs under the script's
   * CPU and memory limits. The result is formatted like print() (strings quoted), at most
   * 10,000 characters; an error reads `file:line:column message` (`console:…` in the expression).
   * A promise it returns is waited for (up to 30 s) while the script goes on.
   */
  evaluate(name: string, expression: string): Promise<ConsoleReply>
}
