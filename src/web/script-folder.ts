import { createHash, randomBytes } from 'node:crypto'
import type { Dirent } from 'node:fs'
import {
  chmod,
  link,
  mkdir,
  readdir,
  readFile,
  realpath,
  rename,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises'
import { dirname, join, relative, resolve, sep } from 'node:path'
import type { ScriptSource } from '../scripting/index.ts'
import { HttpError } from './http-util.ts'

/**
 * A folder-relative name: `.js`/`.mjs`, top level or in up to three subfolders (`lib/util.js`),
 * no segment hidden (so no `..`) and no node_modules. Backslashes, absolute paths and empty
 * segments cannot match.
 */
const NAME = /^(?:[A-Za-z0-9_][A-Za-z0-9_.-]*\/){0,3}[A-Za-z0-9_][A-Za-z0-9_.-]*\.m?js$/
const MAX_NAME = 200
/** Listing stops here, so a single script in a big folder (the working directory) stays cheap. */
const MAX_LISTED = 500

export interface ScriptFileEntry {
  name: string
  /** False for modules (subfolders, names starting with `_`): they run only when imported. */
  script: boolean
}

export interface FileVersion {
  content: string
  /** A hash of the content: a write names the version it started from. */
  version: string
}

export function versionOf(content: string): string {
  return createHash('sha256').update(content).digest('base64url').slice(0, 22)
}

function isTopLevelScript(name: string): boolean {
  return !name.includes('/') && !name.startsWith('_')
}

/**
 * The script files the dashboard's editor reads and writes, confined to the scripts folder.
 * Writes are atomic (a temporary file renamed over the target in the same folder, as desktop
 * editors save), never overwrite what they did not expect, and run one at a time.
 */
export class ScriptFolder {
  private chain: Promise<unknown> = Promise.resolve()

  constructor(private readonly source: ScriptSource) {}

  /** The absolute path of a name, or a 400 saying why the name is refused. */
  async pathOf(name: unknown): Promise<string> {
    if (typeof name !== 'string' || name.length > MAX_NAME || !NAME.test(name)) {
      throw new HttpError(
        400,
        'a script name is a .js or .mjs file in the scripts folder or a subfolder of it (lib/util.js)',
      )
    }
    if (name.split('/').includes('node_modules')) throw new HttpError(400, 'node_modules is not for scripts')
    const only = this.source.only
    if (only !== undefined && !name.includes('/') && name !== only) {
      throw new HttpError(400, `only ${only} and modules in subfolders belong to this single script`)
    }
    const root = await realpath(this.source.dir)
    const full = resolve(root, name)
    // A subfolder that is a symbolic link must not lead out of the folder.
    let existing = dirname(full)
    for (;;) {
      try {
        const real = await realpath(existing)
        if (real !== root && !real.startsWith(root + sep))
          throw new HttpError(400, 'outside the scripts folder')
        break
      } catch (error) {
        if (error instanceof HttpError) throw error
        if (existing === root) throw error
        existing = dirname(existing)
      }
    }
    return full
  }

  async list(): Promise<ScriptFileEntry[]> {
    const root = this.source.dir
    const names: string[] = []
    const walk = async (dir: string, depth: number): Promise<void> => {
      let entries: Dirent[]
      try {
        entries = await readdir(dir, { withFileTypes: true })
      } catch {
        return
      }
      for (const entry of entries) {
        if (names.length >= MAX_LISTED) return
        const name = relative(root, join(dir, entry.name)).split(sep).join('/')
        if (entry.name.startsWith('.') || entry.name === 'node_modules') continue
        if (entry.isDirectory() && depth < 3) await walk(join(dir, entry.name), depth + 1)
        else if (entry.isFile() && NAME.test(name)) {
          if (this.source.only === undefined || name.includes('/') || name === this.source.only)
            names.push(name)
        }
      }
    }
    await walk(root, 0)
    names.sort()
    return names.map((name) => ({ name, script: isTopLevelScript(name) }))
  }

  async read(name: unknown): Promise<FileVersion & { name: string }> {
    const path = await this.pathOf(name)
    const content = await readOrUndefined(path)
    if (content === undefined) throw new HttpError(404, 'no such file')
    return { name: name as string, content, version: versionOf(content) }
  }

  /** Replaces a file's content if it is still at `base` (the version the writer read); 409 otherwise. */
  write(name: unknown, content: string, base: string): Promise<string> {
    return this.serial(async () => {
      const path = await this.pathOf(name)
      const current = await readOrUndefined(path)
      if (current === undefined) throw new HttpError(404, 'no such file (deleted or renamed on disk)')
      if (versionOf(current) !== base) throw conflict(current)
      await writeAtomic(path, content)
      return versionOf(content)
    })
  }

  /** A new file; 409 when the name is taken. */
  create(name: unknown, content: string): Promise<string> {
    return this.serial(async () => {
      const path = await this.pathOf(name)
      await mkdir(dirname(path), { recursive: true })
      const temp = await writeTemp(path, content)
      try {
        // A hard link fails on an existing name, so a file created meanwhile is never replaced.
        await link(temp, path)
      } catch (error) {
        if (code(error) === 'EEXIST') throw new HttpError(409, `${String(name)} already exists`)
        if (!(await exists(path))) await rename(temp, path)
        else throw new HttpError(409, `${String(name)} already exists`)
      } finally {
        await unlink(temp).catch(() => undefined)
      }
      return versionOf(content)
    })
  }

  rename(from: unknown, to: unknown): Promise<void> {
    return this.serial(async () => {
      const source = await this.pathOf(from)
      const target = await this.pathOf(to)
      if (!(await exists(source))) throw new HttpError(404, 'no such file')
      await mkdir(dirname(target), { recursive: true })
      try {
        await link(source, target)
      } catch (error) {
        if (code(error) === 'EEXIST') throw new HttpError(409, `${String(to)} already exists`)
        // A file system without hard links: check, then rename.
        if (await exists(target)) throw new HttpError(409, `${String(to)} already exists`)
        await rename(source, target)
        return
      }
      await unlink(source)
    })
  }

  /** Deletes a file if it is still at `base` (when given). */
  remove(name: unknown, base: string | undefined): Promise<void> {
    return this.serial(async () => {
      const path = await this.pathOf(name)
      const current = await readOrUndefined(path)
      if (current === undefined) throw new HttpError(404, 'no such file')
      if (base !== undefined && versionOf(current) !== base) throw conflict(current)
      await unlink(path)
    })
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.chain.then(task, task)
    this.chain = run.catch(() => undefined)
    return run
  }
}

function conflict(current: string): HttpError {
  return new HttpError(409, 'the file changed on disk since it was read', {
    version: versionOf(current),
    content: current,
  })
}

async function writeTemp(path: string, content: string): Promise<string> {
  // Hidden, so the script watcher and the listing skip it.
  const temp = join(dirname(path), `.${randomBytes(6).toString('hex')}.tinymqtt-save`)
  await writeFile(temp, content, { flag: 'wx' })
  return temp
}

async function writeAtomic(path: string, content: string): Promise<void> {
  const temp = await writeTemp(path, content)
  try {
    // Keep the file's permissions (an executable bit, a group) across the save.
    const { mode } = await stat(path)
    await chmod(temp, mode)
    await rename(temp, path)
  } catch (error) {
    await unlink(temp).catch(() => undefined)
    throw error
  }
}

async function readOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8')
  } catch (error) {
    if (code(error) === 'ENOENT' || code(error) === 'EISDIR') return undefined
    throw error
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}

function code(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code
}
