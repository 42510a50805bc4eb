import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { DataDirError } from './errors.ts'

export const lockFileName = 'tinymqtt.lock'

/** Lock files this process holds: a lock naming our own pid that is not here is stale (pid reuse, e.g. pid 1 in a container). */
const held = new Set<string>()

/** Who holds a data directory's lock: a live pid, or undefined when the lock is free or stale. */
export function lockHolder(dir: string): number | undefined {
  const file = join(dir, lockFileName)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  const pid = Number.parseInt(text.trim(), 10)
  // A lock file cut short by a crash while it was written has no pid: nobody can hold it.
  if (!Number.isInteger(pid) || pid <= 0) return undefined
  if (pid === process.pid) return held.has(file) ? pid : undefined
  return isAlive(pid) ? pid : undefined
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Takes the data directory for this process: LMDB lets several processes share a file,
 * so two brokers would otherwise both write the same sessions. The lock file is created
 * with O_EXCL and holds our pid; one left by a dead process is taken over.
 * Returns the release function.
 */
export function lockDataDir(dir: string): () => void {
  const file = join(dir, lockFileName)
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(file, 'wx')
      try {
        writeSync(fd, `${process.pid}\n`)
      } finally {
        closeSync(fd)
      }
      held.add(file)
      return () => {
        held.delete(file)
        try {
          unlinkSync(file)
        } catch {
          // Already gone (reset-data ran, or the directory was removed): nothing to release.
        }
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw lockError(dir, file, error)
    }
    const holder = lockHolder(dir)
    if (holder !== undefined) {
      throw new DataDirError(
        dir,
        `in use by another tinymqtt broker (pid ${holder}${holder === process.pid ? ', this process' : ''})`,
        `Stop that broker or start this one with --data pointing at another directory. If no broker ` +
          `uses it, delete ${file}`,
      )
    }
    // Stale: its process is gone. Remove it and try once more.
    try {
      unlinkSync(file)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw lockError(dir, file, error)
    }
  }
}

function lockError(dir: string, file: string, error: unknown): DataDirError {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'EEXIST') {
    return new DataDirError(dir, 'another broker took the lock while this one started', 'Try again')
  }
  return new DataDirError(
    dir,
    `cannot create the lock file ${file} (${code ?? String(error)})`,
    'Check that the directory is writable, or start with --data pointing at another directory',
    { cause: error },
  )
}
