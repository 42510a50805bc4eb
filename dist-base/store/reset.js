import { existsSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DataDirError } from "./errors.js";
import { dbFileName } from "./lmdb.js";
import { tryLockDataDir } from "./lock.js";
/**
 * `tinymqtt reset-data <dir>`: deletes the stored state (retained messages, sessions, scripts' remembered state) so a
 * broker can start on the directory again. Only tinymqtt's own files go; a directory a
 * running broker holds is refused. The directory's lock is held while the files go, so a
 * broker starting meanwhile is refused rather than opening a half-deleted store. Returns the
 * files removed.
 */
export async function resetDataDir(dir) {
    const path = resolve(dir);
    const lock = await tryLockDataDir(path);
    if ('holder' in lock) {
        const pid = lock.holder === undefined ? '' : ` (pid ${lock.holder})`;
        throw new DataDirError(path, `in use by a running tinymqtt broker${pid}`, 'Stop it first');
    }
    try {
        const files = [dbFileName, `${dbFileName}-lock`].map((name) => join(path, name));
        const present = files.filter((file) => existsSync(file));
        if (!present.some((file) => file.endsWith(dbFileName))) {
            throw new DataDirError(path, 'there is no tinymqtt store in it', 'Nothing to reset');
        }
        for (const file of present)
            unlinkSync(file);
        return present;
    }
    finally {
        lock.release();
    }
}
//# sourceMappingURL=reset.js.map