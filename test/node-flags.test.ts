// The V8 flags of src/node-flags.ts are what `tinymqtt` (its shebang) and `npm start` run with,
// and what the built CLI starts under.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { NODE_FLAGS } from '../src/node-flags.ts'

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
