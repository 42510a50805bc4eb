import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import {
  hashPassword,
  parsePasswordFile,
  updatePasswordFile,
  verifyPassword,
} from '../src/broker/access/password-file.ts'
import { startBroker } from '../src/index.ts'
import { defined } from './defined.ts'
import { attempt, connect, guard, locate, MemoryLog, requireCommand, tempDir } from './tls-helpers.ts'

const run = promisify(execFile)
const mosquittoPasswd = await requireCommand('mosquitto_passwd', 'mosquitto')

test('reads $7$ (PBKDF2-SHA512) and $6$ (SHA-512) hashes written by the real mosquitto_passwd', {
  skip: mosquittoPasswd,
}, async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'passwd')
  await run('mosquitto_passwd', ['-c', '-b', file, 'alice', 's3cret'])
  await run('mosquitto_passwd', ['-H', 'sha512', '-b', file, 'bob', 'hunter2'])
  const users = parsePasswordFile(await readFile(file, 'utf8'))
  assert.deepEqual([...users.keys()], ['alice', 'bob'])
  assert.equal(users.get('alice')?.kind, 'pbkdf2-sha512')
  assert.equal(users.get('bob')?.kind, 'sha512')
  assert.equal(verifyPassword(defined(users.get('alice'), "users.get('alice')"), Buffer.from('s3cret')), true)
  assert.equal(
    verifyPassword(defined(users.get('alice'), "users.get('alice')"), Buffer.from('s3cret!')),
    false,
  )
  assert.equal(verifyPassword(defined(users.get('bob'), "users.get('bob')"), Buffer.from('hunter2')), true)
  assert.equal(verifyPassword(defined(users.get('bob'), "users.get('bob')"), Buffer.from('hunter')), false)
})

test('hashPassword writes $7$ with 101 iterations like mosquitto_passwd, and verifies', () => {
  const line = `carol:${hashPassword('pw')}`
  assert.match(line, /^carol:\$7\$101\$[A-Za-z0-9+/=]{16}\$[A-Za-z0-9+/=]{88}$/)
  const hash = defined(parsePasswordFile(line).get('carol'), "parsePasswordFile(line).get('carol')")
  assert.equal(verifyPassword(hash, Buffer.from('pw')), true)
  assert.equal(verifyPassword(hash, Buffer.from('pW')), false)
})

test('malformed password files are refused with the line number; comments and blanks are skipped', () => {
  assert.equal(parsePasswordFile('# users\n\nalice:$7$101$AAAA$BBBB\n').size, 1)
  assert.throws(() => parsePasswordFile('alice:$7$101$AAAA$BBBB\nbob:plaintext\n'), /line 2/)
  assert.throws(() => parsePasswordFile('dave:$1$abc$def\n'), /line 1: unsupported password hash/)
})

async function brokerWith(t: { after(fn: () => unknown): void }, options: Parameters<typeof startBroker>[0]) {
  const log = new MemoryLog()
  const broker = await startBroker({ port: 0, host: '127.0.0.1', logger: log.logger, ...options })
  t.after(() => broker.close())
  return { broker, log, url: `mqtt://127.0.0.1:${broker.port}` }
}

test('password-file users: right password in, wrong password and unknown user 4, anonymous 5', {
  skip: mosquittoPasswd,
}, async (t) => {
  const dir = await tempDir(t)
  const passwordFile = join(dir, 'passwd')
  await run('mosquitto_passwd', ['-c', '-b', passwordFile, 'alice', 's3cret'])
  const { url, log } = await brokerWith(t, { passwordFile })
  const right = await attempt(t, url, { username: 'alice', password: 's3cret' })
  assert.equal(right.ok, true)
  const wrong = await attempt(t, url, { username: 'alice', password: 'nope' })
  assert.deepEqual(wrong.ok ? 0 : wrong.code, 4)
  const unknown = await attempt(t, url, { username: 'mallory', password: 's3cret' })
  assert.deepEqual(unknown.ok ? 0 : unknown.code, 4)
  const anonymous = await attempt(t, url, {})
  assert.deepEqual(anonymous.ok ? 0 : anonymous.code, 5)
  // A refusal affects only that connection: alice is still connected and served.
  assert.ok(right.ok)
  assert.equal(right.client.connected, true)
  await guard(right.client.publishAsync('still/here', 'x', { qos: 1 }), 'a PUBACK for the connected client')
  await log.waitFor('connection refused', (r) => r.username === 'mallory')
})

test('the single user (--user/--pass and ms_user via setCredentials) works alongside the password file', async (t) => {
  const dir = await tempDir(t)
  const passwordFile = join(dir, 'passwd')
  await writeFile(passwordFile, `alice:${hashPassword('s3cret')}\n`)
  const { broker, url } = await brokerWith(t, { passwordFile, user: 'admin', pass: 'root' })
  assert.equal((await attempt(t, url, { username: 'admin', password: 'root' })).ok, true)
  assert.equal((await attempt(t, url, { username: 'alice', password: 's3cret' })).ok, true)
  const wrong = await attempt(t, url, { username: 'admin', password: 's3cret' })
  assert.equal(wrong.ok ? 0 : wrong.code, 4)
  broker.setCredentials('script-user', 'script-pass')
  assert.equal((await attempt(t, url, { username: 'script-user', password: 'script-pass' })).ok, true)
  const old = await attempt(t, url, { username: 'admin', password: 'root' })
  assert.equal(old.ok ? 0 : old.code, 4)
})

test('without a password file or user anonymous clients are allowed', async (t) => {
  const { url } = await brokerWith(t, {})
  assert.equal((await attempt(t, url, {})).ok, true)
})

test('a missing or malformed password file stops start-up with its name', async (t) => {
  const dir = await tempDir(t)
  await assert.rejects(
    startBroker({ port: 0, host: '127.0.0.1', logLevel: 'silent', passwordFile: join(dir, 'absent') }),
    /password file .*absent/,
  )
  const bad = join(dir, 'bad')
  await writeFile(bad, 'alice\n')
  await assert.rejects(
    startBroker({ port: 0, host: '127.0.0.1', logLevel: 'silent', passwordFile: bad }),
    /line 1/,
  )
})

test('the file is re-read when it changes: a new user gets in, a changed password takes effect', async (t) => {
  const dir = await tempDir(t)
  const passwordFile = join(dir, 'passwd')
  await writeFile(passwordFile, `alice:${hashPassword('one')}\n`)
  const { url, log } = await brokerWith(t, { passwordFile })
  const before = await attempt(t, url, { username: 'bob', password: 'two' })
  assert.equal(before.ok ? 0 : before.code, 4)
  await updatePasswordFile(passwordFile, 'bob', 'two')
  await updatePasswordFile(passwordFile, 'alice', 'three')
  await log.waitFor('password file reloaded')
  await guard(waitUntilAccepted(t, url, 'alice', 'three'), 'alice with her new password')
  assert.equal((await attempt(t, url, { username: 'bob', password: 'two' })).ok, true)
  const old = await attempt(t, url, { username: 'alice', password: 'one' })
  assert.equal(old.ok ? 0 : old.code, 4)
})

/** Two edits may reach the watcher as two reloads; wait for the one that has both. */
async function waitUntilAccepted(
  t: { after(fn: () => unknown): void },
  url: string,
  username: string,
  password: string,
) {
  // Bounded by a generous deadline (a failure guard), not by a count of quick retries.
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    const result = await attempt(t, url, { username, password })
    if (result.ok) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`${username} never got in`)
}

test('a user removed from the file while connected is disconnected and refused on reconnect', {
  skip: mosquittoPasswd,
}, async (t) => {
  const dir = await tempDir(t)
  const passwordFile = join(dir, 'passwd')
  await run('mosquitto_passwd', ['-c', '-b', passwordFile, 'alice', 's3cret'])
  await run('mosquitto_passwd', ['-b', passwordFile, 'bob', 'hunter2'])
  const { url, log } = await brokerWith(t, { passwordFile, user: 'admin', pass: 'root' })
  const alice = await connect(t, url, { username: 'alice', password: 's3cret', clientId: 'alice-1' })
  const bob = await connect(t, url, { username: 'bob', password: 'hunter2', clientId: 'bob-1' })
  const admin = await connect(t, url, { username: 'admin', password: 'root', clientId: 'admin-1' })
  const aliceClosed = guard(
    new Promise<void>((resolve) => alice.once('close', () => resolve())),
    'alice to be disconnected',
  )
  await run('mosquitto_passwd', ['-D', passwordFile, 'alice'])
  await aliceClosed
  await log.waitFor('user removed from the password file', (r) => r.clientId === 'alice-1')
  const again = await attempt(t, url, { username: 'alice', password: 's3cret' })
  assert.equal(again.ok ? 0 : again.code, 4)
  // Everyone else stays.
  assert.equal(bob.connected, true)
  assert.equal(admin.connected, true)
  await guard(bob.publishAsync('t', 'x', { qos: 1 }), 'bob still served')
})

test('tinymqtt passwd adds and changes users ($7$, 101 iterations), from --password or standard input', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'passwd')
  const cli = ['--import', 'tsx', join(import.meta.dirname, '..', 'src', 'cli.ts'), 'passwd']
  await run(process.execPath, [...cli, file, 'alice', '--password', 'first'])
  const piped = run(process.execPath, [...cli, file, 'bob'])
  piped.child.stdin?.end('from-stdin\n')
  await piped
  await run(process.execPath, [...cli, file, 'alice', '--password', 'second'])
  const text = await readFile(file, 'utf8')
  assert.match(text, /^alice:\$7\$101\$/m)
  const users = parsePasswordFile(text)
  assert.deepEqual([...users.keys()], ['alice', 'bob'])
  assert.equal(verifyPassword(defined(users.get('alice'), "users.get('alice')"), Buffer.from('second')), true)
  assert.equal(verifyPassword(defined(users.get('bob'), "users.get('bob')"), Buffer.from('from-stdin')), true)
  await run(process.execPath, [...cli, file, 'bob', '--delete'])
  assert.deepEqual([...parsePasswordFile(await readFile(file, 'utf8')).keys()], ['alice'])
  const { url } = await brokerWith(t, { passwordFile: file })
  assert.equal((await attempt(t, url, { username: 'alice', password: 'second' })).ok, true)
})

const mosquittoBroker = await requireCommand('mosquitto', 'mosquitto')
const mosquittoPath = (await locate('mosquitto')) ?? 'mosquitto'

test('a file written by tinymqtt passwd is accepted by the real Mosquitto broker', {
  skip: mosquittoBroker || mosquittoPasswd,
}, async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'passwd')
  await updatePasswordFile(file, 'alice', 's3cret')
  // Find a free port by letting a throwaway broker pick one.
  const probe = await startBroker({ port: 0, host: '127.0.0.1', logLevel: 'silent' })
  const port = probe.port
  await probe.close()
  const conf = join(dir, 'mosquitto.conf')
  // Started as root, Mosquitto drops to its own user, which cannot read our private temp dir.
  const user = process.getuid?.() === 0 ? 'user root\n' : ''
  await writeFile(conf, `${user}listener ${port} 127.0.0.1\nallow_anonymous false\npassword_file ${file}\n`)
  const mosquitto = spawn(mosquittoPath, ['-c', conf], { stdio: 'ignore' })
  t.after(() => mosquitto.kill())
  const url = `mqtt://127.0.0.1:${port}`
  let result = await attempt(t, url, { username: 'alice', password: 's3cret' })
  for (let i = 0; !result.ok && result.code === undefined && i < 600; i++) {
    // Mosquitto may not be listening yet (connection refused); retry as a guard, not a timing.
    await new Promise((resolve) => setTimeout(resolve, 50))
    result = await attempt(t, url, { username: 'alice', password: 's3cret' })
  }
  assert.equal(result.ok, true, result.ok ? '' : result.error.message)
  const wrong = await attempt(t, url, { username: 'alice', password: 'wrong' })
  assert.equal(wrong.ok ? 0 : wrong.code, 5)
})
