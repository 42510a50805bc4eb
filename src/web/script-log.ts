import type { Logger } from 'pino'
import type { Broker } from '../broker/broker.ts'
import type { ScriptBroker } from '../scripting/index.ts'

/** One line the scripting host logged: a script's print/console output, a load error, a reload. */
export interface ScriptLogLine {
  seq: number
  at: number
  level: string
  script?: string | undefined
  msg: string
}

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace'])
const ALWAYS = new Set(['fatal', 'error', 'warn', 'info'])
/** Scripts with lines of their own kept; the one that logged least recently goes first. */
const MAX_SCRIPTS = 256

/** The last `capacity` lines of the scripting host's log, for the Scripts view's live tail. */
export class ScriptLog {
  private readonly lines: ScriptLogLine[] = []
  /** Each script's own last lines, so a chatty script does not push a quiet one's out of its panel. */
  private readonly byScript = new Map<string, ScriptLogLine[]>()
  private seq = 0

  constructor(
    private readonly capacity = 200,
    private readonly perScript = 100,
  ) {}

  /** Bumped on every line, so the feed knows when the Scripts view changed. */
  get generation(): number {
    return this.seq
  }

  add(level: string, args: readonly unknown[]): void {
    const [first, second] = args
    let script: string | undefined
    let msg = typeof first === 'string' ? first : typeof second === 'string' ? second : ''
    if (typeof first === 'object' && first !== null) {
      const fields = first as { script?: unknown; err?: unknown }
      if (typeof fields.script === 'string') script = fields.script
      if (msg === '' && fields.err instanceof Error) msg = fields.err.message
    }
    if (msg === '') return
    const line = { seq: ++this.seq, at: Date.now(), level, script, msg }
    this.lines.push(line)
    if (this.lines.length > this.capacity) this.lines.shift()
    if (script !== undefined) this.addToScript(script, line)
  }

  private addToScript(script: string, line: ScriptLogLine): void {
    let own = this.byScript.get(script)
    if (own) this.byScript.delete(script)
    else {
      own = []
      const oldest = this.byScript.keys().next()
      if (this.byScript.size >= MAX_SCRIPTS && !oldest.done) this.byScript.delete(oldest.value)
    }
    this.byScript.set(script, own)
    own.push(line)
    if (own.length > this.perScript) own.shift()
  }

  /** The last lines of every script, or of the one named. */
  tail(limit = 100, script?: string): ScriptLogLine[] {
    const lines = script === undefined ? this.lines : (this.byScript.get(script) ?? [])
    return lines.slice(-limit)
  }
}

/**
 * A logger that writes through to `logger` and keeps each line in `log` as well; its children
 * do the same. A Proxy, so it stays a full pino Logger for the scripting host.
 */
export function teeLogger(logger: Logger, log: ScriptLog): Logger {
  return new Proxy(logger, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver)
      if (typeof value !== 'function') return value
      // A child differs from its parent only in pino's custom-level type parameter.
      if (prop === 'child') {
        return (...args: Parameters<Logger['child']>) =>
          teeLogger(target.child(...args) as unknown as Logger, log)
      }
      if (typeof prop === 'string' && LEVELS.has(prop)) {
        return (...args: unknown[]) => {
          // The tail shows scripts' output whatever the broker's log level; debug/trace only when enabled.
          if (ALWAYS.has(prop) || target.isLevelEnabled(prop)) log.add(prop, args)
          return (value as (...a: unknown[]) => unknown).apply(target, args)
        }
      }
      return (value as (...a: unknown[]) => unknown).bind(target)
    },
  })
}

/**
 * The broker as the scripting host sees it, with a logger that also feeds the dashboard's log
 * tail. Everything else goes straight to the broker.
 */
export function scriptBrokerWithLog(broker: Broker, log: ScriptLog): ScriptBroker {
  const logger = teeLogger(broker.logger, log)
  return {
    logger,
    publish: (input) => broker.publish(input),
    subscribe: (filter, handler) => broker.subscribe(filter, handler),
    setCredentials: (user, pass) => broker.setCredentials(user, pass),
    get auth() {
      return broker.auth
    },
    listen: (port) => broker.listen(port),
    get port() {
      return broker.port
    },
    lastValue: (topic) => broker.lastValue(topic),
    useLastValues: () => broker.useLastValues(),
    loadScriptStates: () => broker.loadScriptStates(),
    putScriptState: (name, json) => broker.putScriptState(name, json),
  }
}
