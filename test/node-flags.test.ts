// The V8 flags of src/node-flags.ts are what `tinymqtt` (its shebang) and `npm start` run with,
// and what the built CLI starts under.
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { NODE_FLAGS } from '../src/node-flags.ts'
import { START_TIMEOUT } from './cli-process.ts'
import { until } from './helpers.ts'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')

test("the CLI's shebang and npm start pass the broker's V8 flags", async () => {
  const cli = await readFile(join(ROOT, 'src', 'cli.ts'), 'utf8')
  assert.equal(cli.split('\n')[0], `#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`)
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }
  assert.match(pkg.scripts.start, new RegExp(`^node ${NODE_FLAGS.join(' ')} dist/cli\\.js `))
})

test('node (this version) accepts the flags: an unknown V8 flag would stop it with "bad option"', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [
    ...NODE_FLAGS,
    '-e',
    'console.log(JSON.stringify(process.execArgv))',
  ])
  assert.deepEqual((JSON.parse(stdout) as string[]).slice(0, NODE_FLAGS.length), NODE_FLAGS)
  await assert.rejects(
    promisify(execFile)(process.execPath, ['--max-semi-space-sighs=8', '-e', '0']),
    /bad option/,
  )
})

const BIN = join(ROOT, 'dist', 'cli.js')
// npm install and npm ci build dist/ (the prepare script); /proc tells a process's command line.
const binSkip =
  process.platform !== 'linux'
    ? 'reads the command line from /proc (Linux only)'
    : !existsSync(BIN) && process.env.CI !== 'true'
      ? 'dist/cli.js not built (npm run build)'
      : false

test('the built tinymqtt command starts node with the flags, through its shebang', {
  skip: binSkip,
}, async (t) => {
  // What npm does to a package's bin when it installs it.
  await chmod(BIN, 0o755)
  const child = spawn(BIN, ['--memory', '--port', '0', '--host', '127.0.0.1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.after(() => child.kill('SIGKILL'))
  let out = ''
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString()
  })
  await until(() => out.includes('MQTT listener started'), 'the listener of the built CLI', START_TIMEOUT)
  // env -S replaced itself with node: the child is node, with the flags before the script.
  const argv = (await readFile(`/proc/${child.pid}/cmdline`, 'utf8')).split('\0')
  assert.deepEqual(argv.slice(1, 2 + NODE_FLAGS.length), [...NODE_FLAGS, BIN])
})
