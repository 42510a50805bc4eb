/**
 * `tinymqtt test [path]`: runs the tests of scripts (`*.test.js`, `*.test.mjs`) with Node's test
 * runner, in a child process of the same node, with `tinymqtt/testing` resolving to this
 * package's harness (see testing/register.ts).
 */
import { spawn } from 'node:child_process'
import { readdir, stat } from 'node:fs/promises'
import { join, relative, resolve } from 'node:path'
import { isTestFileName } from './scripting/script-files.ts'

/** Folders never searched: installed packages and hidden folders (.git, editors' state). */
function skipsFolder(name: string): boolean {
  return name === 'node_modules' || name.startsWith('.')
}

/** Every test file under `path` (or `path` itself when it is one), sorted. */
export async function findTestFiles(path: string): Promise<string[]> {
  const root = resolve(path)
  const info = await stat(root)
  if (!info.isDirectory()) return isTestFileName(root) ? [root] : []
  const found: string[] = []
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true })
    for (const entry of entries) {
      const full = join(dir, entry.name)
      if (entry.isDirectory()) {
        if (!skipsFolder(entry.name)) await walk(full)
      } else if (entry.isFile() && isTestFileName(entry.name)) {
        found.push(full)
      }
    }
  }
  await walk(root)
  return found.sort()
}

/**
 * Runs the test files under `path` and resolves with the exit code: 0 when all pass, 1 when
 * one fails or there are none.
 */
export async function runScriptTests(path: string): Promise<number> {
  const files = await findTestFiles(path)
  if (files.length === 0) {
    process.stderr.write(`tinymqtt test: no *.test.js or *.test.mjs files under ${path}\n`)
    return 1
  }
  const fromSource = import.meta.url.endsWith('.ts')
  const register = new URL(`./testing/register${fromSource ? '.ts' : '.js'}`, import.meta.url).href
  const args = [
    // Running from source (this repository's tests), the harness itself is TypeScript.
    ...(fromSource ? ['--import', import.meta.resolve('tsx')] : []),
    '--import',
    register,
    '--test',
    '--test-reporter=spec',
    ...files.map((f) => relative(process.cwd(), f) || f),
  ]
  return new Promise<number>((done, fail) => {
    // Run from inside a test (this repository's own), the child must not think it is a test file.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env
    const child = spawn(process.execPath, args, { stdio: 'inherit', env })
    child.once('error', fail)
    child.once('exit', (code, signal) => done(code ?? (signal ? 1 : 0)))
  })
}
