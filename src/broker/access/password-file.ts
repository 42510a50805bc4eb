import { createHash, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto'
import { readFile, rename, writeFile } from 'node:fs/promises'

/**
 * A password hash in one of the formats `mosquitto_passwd` writes:
 * `$7$<iterations>$<salt>$<hash>` (PBKDF2-HMAC-SHA512, Mosquitto 2's default) or
 * `$6$<salt>$<hash>` (SHA-512 of password then salt, `-H sha512`), salt and hash in base64.
 */
export type PasswordHash =
  | { kind: 'pbkdf2-sha512'; iterations: number; salt: Buffer; hash: Buffer }
  | { kind: 'sha512'; salt: Buffer; hash: Buffer }

export class PasswordFileError extends Error {}

/** Mosquitto's defaults, so files written here read the same as its own. */
const defaultIterations = 101
const saltBytes = 12
const hashBytes = 64
/** PBKDF2 runs synchronously inside CONNECT handling; a hostile file must not stall the loop. */
const maxIterations = 1_000_000

/** Parses `user:hash` lines; blank lines and `#` comments are skipped. Errors name the line. */
export function parsePasswordFile(text: string): Map<string, PasswordHash> {
  const users = new Map<string, PasswordHash>()
  const lines = text.split(/\r?\n/)
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const colon = line.lastIndexOf(':$')
    if (colon <= 0)
      throw new PasswordFileError(`line ${i + 1}: expected "user:$7$…" as written by mosquitto_passwd`)
    const user = line.slice(0, colon)
    const hash = parseHash(line.slice(colon + 1))
    if (!hash) throw new PasswordFileError(`line ${i + 1}: unsupported password hash for user "${user}"`)
    users.set(user, hash)
  }
  return users
}

function parseHash(text: string): PasswordHash | undefined {
  // `text` starts with the `$` that lastIndexOf(':$') found, so the first part is empty.
  const [, kind, ...fields] = text.split('$')
  if (kind === '7' && fields.length === 3) {
    const [rounds = '', salt = '', hash = ''] = fields
    const iterations = Number(rounds)
    if (!Number.isInteger(iterations) || iterations < 1 || iterations > maxIterations) return undefined
    return { kind: 'pbkdf2-sha512', iterations, salt: base64(salt), hash: base64(hash) }
  }
  if (kind === '6' && fields.length === 2) {
    const [salt = '', hash = ''] = fields
    return { kind: 'sha512', salt: base64(salt), hash: base64(hash) }
  }
  return undefined
}

function base64(text: string): Buffer {
  return Buffer.from(text, 'base64')
}

export function verifyPassword(hash: PasswordHash, password: Buffer): boolean {
  const computed =
    hash.kind === 'pbkdf2-sha512'
      ? pbkdf2Sync(password, hash.salt, hash.iterations, hash.hash.length || hashBytes, 'sha512')
      : createHash('sha512').update(password).update(hash.salt).digest()
  return computed.length === hash.hash.length && timingSafeEqual(computed, hash.hash)
}

/** A `$7$` hash line value, the way `mosquitto_passwd` writes it. */
export function hashPassword(password: string, iterations = defaultIterations): string {
  const salt = randomBytes(saltBytes)
  const hash = pbkdf2Sync(password, salt, iterations, hashBytes, 'sha512')
  return `$7$${iterations}$${salt.toString('base64')}$${hash.toString('base64')}`
}

/**
 * Adds or changes (or, with `password` undefined, removes) one user, keeping every other line
 * as it was. Written to a temporary file and renamed, so a broker watching the file never
 * reads half of it. Returns whether the user existed before.
 */
export async function updatePasswordFile(
  path: string,
  user: string,
  password: string | undefined,
): Promise<boolean> {
  if (user === '' || user.includes(':'))
    throw new PasswordFileError('a user name must be non-empty and contain no ":"')
  let text = ''
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  const lines = text.split(/\r?\n/).filter((line, i, all) => line !== '' || i < all.length - 1)
  let found = false
  const next: string[] = []
  for (const line of lines) {
    if (line.trim().startsWith(`${user}:`) && !line.trim().startsWith('#')) {
      found = true
      if (password !== undefined) next.push(`${user}:${hashPassword(password)}`)
    } else next.push(line)
  }
  if (!found && password !== undefined) next.push(`${user}:${hashPassword(password)}`)
  const temp = `${path}.${process.pid}.tmp`
  await writeFile(temp, next.length > 0 ? `${next.join('\n')}\n` : '', { mode: 0o600 })
  await rename(temp, path)
  return found
}
