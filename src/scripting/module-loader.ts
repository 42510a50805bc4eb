/**
 * VM side of script imports: the module normalizer and loader of one script version. Modules
 * come from the map the host read before the load; an import that breaks the rules or names
 * no file of that map fails the load with the location of its import statement.
 */
import type { JSModuleLoader, JSModuleNormalizer } from 'quickjs-emscripten'
import type { ScriptError } from './error-location.ts'
import { locationOf, resolveImport, scanImports } from './import-specifiers.ts'

/** Stands for a rejected import between normalize and load; never a real module name (no .js). */
const REJECTED = '<rejected import '

export class ScriptImports {
  /** Why each rejected import failed, by the name normalize gave it. */
  private readonly rejected = new Map<string, { importer: string; specifier: string; problem: string }>()
  /** The first import of each module, to point at when it cannot be loaded. */
  private readonly firstImport = new Map<string, { importer: string; specifier: string }>()
  /** Load failures by message, to put back the location QuickJS does not keep for them. */
  private readonly failures = new Map<string, string>()

  constructor(
    private readonly entry: string,
    private readonly entryCode: string,
    private readonly sources: ReadonlyMap<string, string>,
  ) {}

  /** True for the script and each module it may load: the files its stack frames can name. */
  readonly isOwnFile = (name: string): boolean => name === this.entry || this.sources.has(name)

  readonly normalize: JSModuleNormalizer = (importer: string, specifier: string) => {
    const resolved = resolveImport(importer, specifier)
    if ('name' in resolved) {
      if (!this.firstImport.has(resolved.name)) this.firstImport.set(resolved.name, { importer, specifier })
      return resolved.name
    }
    // quickjs-emscripten drops a normalizer's error; the loader reports it instead.
    const key = `${REJECTED}${this.rejected.size}>`
    this.rejected.set(key, { importer, specifier, problem: resolved.problem })
    return key
  }

  readonly load: JSModuleLoader = (name: string) => {
    const source = this.sources.get(name)
    if (source !== undefined) return source
    const rejected = this.rejected.get(name)
    if (rejected) return { error: this.fail(rejected.importer, rejected.specifier, rejected.problem) }
    const first = this.firstImport.get(name)
    const importer = first?.importer ?? this.entry
    const specifier = first?.specifier ?? name
    return { error: this.fail(importer, specifier, `cannot import '${specifier}': ${name} not found`) }
  }

  /**
   * QuickJS reports a failed import without a location; this gives it the `file:line:column`
   * of the import statement. Other errors come back unchanged.
   */
  locate(error: ScriptError): ScriptError {
    const where = this.failures.get(error.message)
    return where !== undefined && !error.where.includes(':') ? { ...error, where } : error
  }

  private fail(importer: string, specifier: string, problem: string): Error {
    const code = importer === this.entry ? this.entryCode : this.sources.get(importer)
    const site = code === undefined ? undefined : scanImports(code).find((s) => s.specifier === specifier)
    this.failures.set(problem, code !== undefined && site ? locationOf(importer, code, site.index) : importer)
    return new Error(problem)
  }
}
