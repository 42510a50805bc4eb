/**
 * Host side of script imports: before a load, reads every module a script imports, directly
 * or not, so the VM's module loader serves them from memory (the event loop never waits on
 * disk, the VM never touches it) and the host knows which files a script depends on.
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { resolveImport, scanImports } from './import-specifiers.ts'

export interface ModuleGraph {
  /** Source of every module found, by folder-relative name. */
  sources: Map<string, string>
  /**
   * Every module name the script's import statements resolve to, including ones that did not
   * exist when read: a change to any of them (creating it too) reloads the script.
   */
  names: Set<string>
}

/** Bounds the walk over a folder with many modules; more than this is surely a mistake. */
const MAX_MODULES = 1000

/** Reads the modules `code` (the script `entry` in `dir`) imports, level by level, in parallel. */
export async function readModuleGraph(dir: string, entry: string, code: string): Promise<ModuleGraph> {
  const sources = new Map<string, string>()
  const names = new Set<string>()
  let frontier: Array<[string, string]> = [[entry, code]]
  while (frontier.length > 0 && names.size < MAX_MODULES) {
    const wanted: string[] = []
    for (const [importer, source] of frontier) {
      for (const site of scanImports(source)) {
        const resolved = resolveImport(importer, site.specifier)
        // A bad specifier is left to the VM's loader, which reports it where it is imported.
        if (!('name' in resolved) || resolved.name === entry || names.has(resolved.name)) continue
        if (names.size >= MAX_MODULES) break
        names.add(resolved.name)
        wanted.push(resolved.name)
      }
    }
    const read = await Promise.all(
      wanted.map((name) =>
        readFile(join(dir, ...name.split('/')), 'utf8').then(
          (source): [string, string] => [name, source],
          () => undefined,
        ),
      ),
    )
    frontier = []
    for (const module of read) {
      if (!module) continue
      sources.set(module[0], module[1])
      frontier.push(module)
    }
  }
  return { sources, names }
}

/** Hash of a script together with its modules: a change to either one is a new version. */
export function loadHash(code: string, sources: ReadonlyMap<string, string>): string {
  const hash = createHash('sha1').update(code)
  // By name, in the order sort() gives strings (UTF-16 code units).
  const byName = [...sources].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  for (const [name, source] of byName) hash.update(`\0${name}\0`).update(source)
  return hash.digest('hex')
}
