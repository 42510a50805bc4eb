import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Broker } from '../broker/broker.ts'
import type { ScriptingHost, ScriptStatus } from '../scripting/index.ts'
import { authRequired } from './http-auth.ts'
import { HttpError, readJson, sameOrigin, send } from './http-util.ts'
import {
  type DashboardAccess,
  requestActor,
  scriptWritesAllowed,
  scriptWritesRefusal,
} from './script-access.ts'
import { ScriptFolder } from './script-folder.ts'

/** Where a load error points, for the editor to mark. */
export interface ScriptProblem {
  script: string
  file?: string | undefined
  line?: number | undefined
  column?: number | undefined
  message: string
}

/** What a change answers: the file's new version and how the scripts it concerns loaded. */
export interface SaveOutcome {
  version?: string | undefined
  scripts: ScriptStatus[]
  problems: ScriptProblem[]
}

export interface ScriptEditDeps {
  broker: Broker
  scripting: ScriptingHost | undefined
  access: DashboardAccess
}

const WRITES = new Set(['save', 'create', 'rename', 'delete'])

/** Splits `file:line:column message` (the host's error format); a bare message has no place. */
export function parseProblem(script: string, error: string): ScriptProblem {
  const m = /^(\S+?):(\d+):(\d+) ([\s\S]*)$/.exec(error)
  if (!m) return { script, message: error }
  const [, file, line, column, message = ''] = m
  return { script, file, line: Number(line), column: Number(column), message }
}

/**
 * The editor's file API under /api/scripts/: `files` and `file?name=` to read, `save`, `create`,
 * `rename` and `delete` (POST, JSON) to change. A change waits for the scripting host to load
 * the result, so the editor can mark a load error; every change is logged with who made it.
 */
export function createScriptEditApi({ broker, scripting, access }: ScriptEditDeps) {
  const log = broker.logger.child({ component: 'dashboard' })
  let folder: ScriptFolder | undefined
  const folderOf = (): ScriptFolder => {
    const source = scripting?.scriptSource()
    if (!source) throw new HttpError(404, 'scripting is off')
    folder ??= new ScriptFolder(source)
    return folder
  }

  /**
   * A dashboard open to anyone on the network shows scripts' status but not their source, which
   * may hold secrets (tokens in ms_fetch URLs); one with a password or on loopback shows it.
   */
  const mayRead = (): boolean => authRequired(broker) || scriptWritesRefusal(access) === undefined

  const outcome = async (names: string[], version?: string): Promise<SaveOutcome> => {
    const statuses = new Map<string, ScriptStatus>()
    for (const name of names) {
      for (const status of (await scripting?.refresh(name)) ?? []) statuses.set(status.name, status)
    }
    const scripts = [...statuses.values()]
    const problems = scripts.flatMap((s) => (s.error ? [parseProblem(s.name, s.error)] : []))
    return { version, scripts, problems }
  }

  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    const match = /^\/api\/scripts\/([a-z]+)$/.exec(url.pathname)
    if (!match) return false
    const [, action = ''] = match
    if (req.method === 'GET' && (action === 'files' || action === 'file')) {
      if (!mayRead()) throw new HttpError(403, scriptWritesRefusal(access) ?? 'not allowed')
      if (action === 'files') {
        const refusal = scriptWritesRefusal(access)
        send(res, 200, {
          files: scripting?.scriptSource() ? await folderOf().list() : [],
          editing: { allowed: refusal === undefined, reason: refusal },
        })
      } else send(res, 200, await folderOf().read(url.searchParams.get('name')))
      return true
    }
    if (req.method !== 'POST' || !WRITES.has(action)) return false
    if (!sameOrigin(req)) throw new HttpError(403, 'cross-origin request refused')
    const actor = requestActor(req)
    if (!scriptWritesAllowed(access, req)) {
      log.warn({ ...actor, action }, 'script change from the dashboard refused')
      throw new HttpError(403, scriptWritesRefusal(access) ?? 'not allowed')
    }
    const body = await readJson(req)
    const files = folderOf()
    const content = body.content ?? ''
    if (typeof content !== 'string') throw new HttpError(400, 'content must be a string')
    let result: SaveOutcome
    let file: string
    switch (action) {
      case 'save': {
        if (typeof body.base !== 'string') throw new HttpError(400, 'base must be the version read')
        file = body.name as string
        const version = await files.write(body.name, content, body.base)
        logChange(log, actor, action, file)
        result = await outcome([file], version)
        break
      }
      case 'create': {
        file = body.name as string
        const version = await files.create(body.name, content)
        logChange(log, actor, action, file)
        result = await outcome([file], version)
        break
      }
      case 'rename': {
        await files.rename(body.from, body.to)
        file = `${String(body.from)} -> ${String(body.to)}`
        logChange(log, actor, action, file)
        result = await outcome([body.from as string, body.to as string])
        break
      }
      default: {
        if (body.base !== undefined && typeof body.base !== 'string') throw new HttpError(400, 'bad base')
        file = body.name as string
        await files.remove(body.name, body.base)
        logChange(log, actor, action, file)
        result = await outcome([file])
      }
    }
    send(res, 200, result)
    return true
  }
}

function logChange(
  log: Broker['logger'],
  actor: { user: string; address: string },
  action: string,
  file: string,
): void {
  log.info({ ...actor, action, file }, `script ${action} from the dashboard`)
}
