import { readdir, stat } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'

/** Where scripts come from: every script file directly in `dir`, or just `only` in it. */
export interface ScriptSource {
  dir: string
  only?: string | undefined
}

export interface ScriptFile {
  /** The name scripts are known by in logs and error locations: the file name. */
  name: string
  file: string
}

/** Tests of scripts (`tinymqtt test`), run by Node's test runner and never loaded as scripts. */
export function isTestFileName(name: string): boolean {
  return name.endsWith('.test.js') || name.endsWith('.test.mjs')
}

/**
 * Script files: `.js` / `.mjs`, not hidden (editor swap and backup files start with a dot or end
 * in `~`), not starting with `_`: those are modules for scripts to import, never run alone
 * (as is every file in a subfolder, such as lib/), and not a test (`*.test.js`).
 */
export function isScriptName(name: string): boolean {
  return (
    !name.startsWith('.') &&
    !name.startsWith('_') &&
    !name.includes('/') &&
    !isTestFileName(name) &&
    (name.endsWith('.js') || name.endsWith('.mjs'))
  )
}

export async function resolveScriptSource(path: string): Promise<ScriptSource> {
  const full = resolve(path)
  const info = await stat(full)
  if (info.isDirectory()) return { dir: full }
  return { dir: dirname(full), only: basename(full) }
}

export function belongsTo(source: ScriptSource, name: string): boolean {
  if (isTestFileName(name)) return false
  return source.only !== undefined ? name === source.only : isScriptName(name)
}

export async function listScripts(source: ScriptSource): Promise<ScriptFile[]> {
  const names =
    source.only !== undefined
      ? [source.only].filter((name) => belongsTo(source, name))
      : (await readdir(source.dir)).filter(isScriptName).sort()
  return names.map((name) => ({ name, file: join(source.dir, name) }))
}
