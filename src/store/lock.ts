import { createHash } from 'node:crypto'
import { linkSync, lstatSync, realpathSync, renameSync, type Stats, unlinkSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DataDirError } from './errors.ts'

export const lockFileName = 'tinymqtt.lock'

/** Longest Unix socket path the kernel takes (sun_path less its NUL): 107 on Linux, 103 on the BSDs and macOS. */
const maxSocketPath = process.platform === 'linux' ? 107 : 103
/** How long a live holder has to say its pid before it is reported without one. */
const pidReplyMs = 2000
/** Probes answered at once; anything beyond waits in the backlog (the lock carries no traffic). */
const maxProbes = 16
/** A probe that never hangs up after the pid is cut after this long idle. */
const probeLingerMs = 5000

/** A held lock, or who holds it (pid undefined when the holder did not say in time). */
export type LockAttempt = { release: () => void } | { holder: number | undefined }

/**
 * Where a data directory's lock socket lives: `<dir>/tinymqtt.lock`, or, when that path is too
 * long for a Unix socket, `<tmpdir>/tinymqtt-<hash of the real directory path>.lock`.
 */
export function lockPath(dir: string): string {
  const inDir = join(dir, lockFileName)
  if (Buffer.byteLength(inDir) <= maxSocketPath) return inDir
  let real: string
  try {
    real = realpathSync(dir)
  } catch {
    real = dir
  }
  const hash = createHash('sha256').update(real).digest('hex').slice(0, 24)
  const short = join(tmpdir(), `tinymqtt-${hash}.lock`)
  if (Buffer.byteLength(short) <= maxSocketPath) return short
  throw new DataDirError(
    dir,
    `its lock socket path is longer than the ${maxSocketPath} bytes a Unix socket allows, and so is ${short}`,
    'Start with --data pointing at a shorter path, or set TMPDIR to a short directory',
  )
}

/**
 * Takes the data directory for this process, or says who holds it. LMDB lets several
 * processes share a file, so two brokers would otherwise both write the same sessions.
 *
 * The lock is a Unix socket listening at lockPath(dir). The kernel closes it when its process
 * dies, however it dies and whether or not it has been reaped: a socket file left behind then
 * refuses connections and is replaced, while a live holder accepts them (and answers with its
 * pid). No pid is checked for liveness, so a recycled pid (a container restart, pid 1) never
 * blocks a start.
 */
export async function tryLockDataDir(dir: string): Promise<LockAttempt> {
  const path = lockPath(dir)
  // Each round either binds, finds a live holder, or removes one dead socket file; a few
  // rounds cover brokers racing over the same stale file.
  for (let round = 0; round < 5; round++) {
    const server = await listen(path).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') return undefined
      throw lockError(dir, path, error)
    })
    if (server) return { release: () => server.close() }
    const stale = statOrUndefined(path)
    if (!stale) continue
    const probe = await ask(path)
    if (probe.live) return { holder: probe.pid }
    if (probe.gone) continue
    removeDead(dir, path, stale)
  }
  throw new DataDirError(dir, `could not take the lock ${path}: other brokers kept taking it`, 'Try again')
}

/** Takes the data directory for this process (see tryLockDataDir); returns the release function. */
export async function lockDataDir(dir: string): Promise<() => void> {
  const attempt = await tryLockDataDir(dir)
  if ('release' in attempt) return attempt.release
  const { holder } = attempt
  const who = holder === undefined ? '' : ` (pid ${holder}${holder === process.pid ? ', this process' : ''})`
  throw new DataDirError(
    dir,
    `in use by another tinymqtt broker${who}`,
    'Stop that broker or start this one with --data pointing at another directory',
  )
}

function listen(path: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer({ allowHalfOpen: false })
    server.maxConnections = maxProbes
    server.on('connection', (socket) => {
      // Only ever a probe: say who holds the lock, then hang up. Whatever the peer sends is
      // read and dropped: closing a Unix socket with unread bytes resets it, and the peer
      // would see ECONNRESET instead of the pid. The close waits for the peer's own end; one
      // that never hangs up is cut after probeLingerMs.
      socket.on('error', () => {})
      socket.unref()
      socket.resume()
      socket.setTimeout(probeLingerMs, () => socket.destroy())
      socket.end(`${process.pid}\n`)
    })
    server.once('error', reject)
    server.listen(path, () => {
      server.off('error', reject)
      // After binding, an error (none are expected) must not become an uncaught exception.
      server.on('error', () => {})
      // The lock must never keep a stopping broker (or reset-data) alive.
      server.unref()
      resolve(server)
    })
  })
}

interface Probe {
  /** A process accepted the connection: it holds the lock. */
  live: boolean
  /** The socket file vanished meanwhile: try binding again. */
  gone: boolean
  pid?: number
}

/** Connects to the lock socket: a live holder accepts (and sends its pid); a dead one's file refuses. */
function ask(path: string): Promise<Probe> {
  return new Promise((resolve) => {
    const socket = net.connect(path)
    let text = ''
    const done = (probe: Probe) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(probe)
    }
    const answered = () => {
      const pid = Number.parseInt(text, 10)
      done({ live: true, gone: false, pid: Number.isInteger(pid) && pid > 0 ? pid : undefined })
    }
    const timer = setTimeout(answered, pidReplyMs)
    timer.unref()
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      text += chunk
      if (text.includes('\n')) answered()
    })
    socket.on('end', answered)
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') done({ live: false, gone: false })
      else if (error.code === 'ENOENT') done({ live: false, gone: true })
      // Anything else (EAGAIN: a full backlog) means some process has it open: treat as held.
      else done({ live: true, gone: false })
    })
  })
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

/**
 * Removes the dead socket file seen as `stale`. A plain unlink could remove a socket another
 * broker bound there since the probe, so the file is first moved aside (atomically) and
 * checked: if it is not the dead one, it is linked back unless something took its place.
 */
function removeDead(dir: string, path: string, stale: Stats): void {
  const aside = `${path}.${process.pid}.${Date.now()}.dead`
  try {
    renameSync(path, aside)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
    throw lockError(dir, path, error)
  }
  const moved = statOrUndefined(aside)
  const same = moved !== undefined && moved.ino === stale.ino && moved.dev === stale.dev
  if (!same) {
    try {
      linkSync(aside, path)
    } catch {
      // Something is at the path again: the next round probes it.
    }
  }
  try {
    unlinkSync(aside)
  } catch {
    // Already gone: nothing to tidy.
  }
}

function lockError(dir: string, path: string, error: unknown): DataDirError {
  const code = (error as NodeJS.ErrnoException).code
  return new DataDirError(
    dir,
    `cannot create the lock socket ${path} (${code ?? String(error)})`,
    'Check that the directory is writable, or start with --data pointing at another directory',
    { cause: error },
  )
}
