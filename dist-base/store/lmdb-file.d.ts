/**
 * Checks the LMDB file before LMDB sees it: whether it exists, is accessible, and starts
 * with an LMDB meta page. lmdb-js 3.5 crashes the process (double free in EnvWrap::openEnv)
 * when mdb_env_open fails, so a file LMDB would refuse must be refused here, with an error
 * the user can act on. A missing or empty file is fine: LMDB creates the store.
 */
export declare function checkDataFile(file: string): void;
