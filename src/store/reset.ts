import { existsSync, unlinkSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { DataDirError } from './errors.ts'
import { dbFileName } from './lmdb.ts'
import { lockFileName, lockHolder } from './lock.ts'

/**
 * `tinymqtt reset-data <dir>`: deletes the stored state (retained messages, sessions, scripts' remembered state) so a
 * broker can start on the directory again. Only tinymqtt's own files go; a directory a
 * running broker holds is refused. Returns the files removed.
 */
export function resetDataDir(dir: string): string[] {
  const path = resolve(dir)
  const holder = lockHolder(path)
  if (holder !== undefined) {
    throw new DataDirError(path, `in use by a running tinymqtt broker (pid ${holder})`, 'Stop it first')
  }
  const files = [dbFileName, `${dbFileName}-lock`, lockFileName].map((name) => join(path, name))
  const present = files.filter((file) => existsSync(file))
  if (!present.some((file) => file.endsWith(dbFileName))) {
    throw new DataDirError(path, 'there is no tinymqtt store in it', 'Nothing to reset')
  }
  for (const file of present) unlinkSync(file)
  return present
}
