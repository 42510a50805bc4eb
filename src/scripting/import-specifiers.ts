/**
 * The import rules of scripts, shared by the host (which reads a script's modules before a load)
 * and the VM (whose module loader enforces them): a script may import only relative `.js` /
 * `.mjs` files inside its scripts folder. Module names are paths relative to that folder with
 * `/` separators (`lib/util.js`), which is also how errors and stack traces name them.
 */
import { posix } from 'node:path'
import { present } from '../util/invariant.ts'

export type ResolvedImport = { name: string } | { problem: string }

/**
 * `import … from '…'`, `export … from '…'`, `import '…'` and `import('…')` with a string literal.
 * Not a parser: it also finds such text inside comments and strings. That only costs a read
 * of a file that is then never imported; QuickJS itself decides what is imported, so a
 * match too many never becomes an error.
 */
const IMPORT = /(?:\bfrom\s*|\bimport\s*(?:\(\s*)?)(['"])([^'"\r\n]+)\1/g

export interface ImportSite {
  specifier: string
  /** Index of the opening quote in the source. */
  index: number
}

export function scanImports(code: string): ImportSite[] {
  const sites: ImportSite[] = []
  for (const m of code.matchAll(IMPORT)) {
    const specifier = present(m[2], 'the import specifier')
    sites.push({ specifier, index: m.index + m[0].length - specifier.length - 2 })
  }
  return sites
}

/** Resolves `specifier` imported by the module `importer` (a folder-relative name). */
export function resolveImport(importer: string, specifier: string): ResolvedImport {
  const quoted = `'${specifier}'`
  if (specifier.startsWith('/') || specifier.startsWith('\\') || /^[a-zA-Z]:[\\/]/.test(specifier)) {
    return {
      problem: `cannot import ${quoted}: absolute paths are not allowed, use a path relative to the script ('./…')`,
    }
  }
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) {
    return {
      problem: `cannot import ${quoted}: packages and built-in modules are not available to scripts; import a file of the scripts folder with a relative path ('./…')`,
    }
  }
  if (specifier.includes('\\')) {
    return { problem: `cannot import ${quoted}: use '/' in import paths` }
  }
  const name = posix.normalize(posix.join(posix.dirname(importer), specifier))
  if (name === '..' || name.startsWith('../')) {
    return { problem: `cannot import ${quoted}: it is outside the scripts folder` }
  }
  if (!name.endsWith('.js') && !name.endsWith('.mjs')) {
    return {
      problem: `cannot import ${quoted}: only .js and .mjs files can be imported, named with their extension`,
    }
  }
  return { name }
}

/** `file:line:column` (1-based, as QuickJS reports them) of `index` in `code`. */
export function locationOf(file: string, code: string, index: number): string {
  let line = 1
  let lineStart = 0
  for (let i = code.indexOf('\n'); i !== -1 && i < index; i = code.indexOf('\n', i + 1)) {
    line++
    lineStart = i + 1
  }
  return `${file}:${line}:${index - lineStart + 1}`
}
