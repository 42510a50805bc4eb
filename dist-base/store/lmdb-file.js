import { accessSync, closeSync, constants, openSync, readSync, statSync } from 'node:fs';
/** LMDB's meta page magic and the data format version of the LMDB that lmdb-js 3 bundles. */
const magic = 0xbeefc0de;
const dataVersion = 2;
/** Where the meta page's magic sits: after the page header (24 bytes in lmdb-js 3's LMDB, 16 in classic LMDB). */
const magicOffsets = [24, 16];
/**
 * Checks the LMDB file before LMDB sees it: whether it exists, is accessible, and starts
 * with an LMDB meta page. lmdb-js 3.5 crashes the process (double free in EnvWrap::openEnv)
 * when mdb_env_open fails, so a file LMDB would refuse must be refused here, with an error
 * the user can act on. A missing or empty file is fine: LMDB creates the store.
 */
export function checkDataFile(file) {
    let size;
    try {
        size = statSync(file).size;
    }
    catch (error) {
        if (error.code === 'ENOENT')
            return;
        throw new Error(`cannot read ${file} (${error.code ?? String(error)})`);
    }
    try {
        accessSync(file, constants.R_OK | constants.W_OK);
    }
    catch (error) {
        throw new Error(`${file} is not readable and writable (${error.code})`);
    }
    // An empty file is what a crash while creating the store leaves: nothing was ever stored.
    if (size === 0)
        return;
    const head = Buffer.alloc(32);
    const fd = openSync(file, 'r');
    try {
        readSync(fd, head, 0, head.length, 0);
    }
    finally {
        closeSync(fd);
    }
    const at = magicOffsets.find((offset) => head.readUInt32LE(offset) === magic);
    if (at === undefined)
        throw new Error(`${file} is not an LMDB database file (damaged or overwritten)`);
    const version = head.readUInt32LE(at + 4);
    if (version !== dataVersion) {
        throw new Error(`${file} has LMDB data version ${version}; this tinymqtt reads version ${dataVersion}`);
    }
}
//# sourceMappingURL=lmdb-file.js.map