/**
 * `tinymqtt reset-data <dir>`: deletes the stored state (retained messages, sessions, scripts' remembered state) so a
 * broker can start on the directory again. Only tinymqtt's own files go; a directory a
 * running broker holds is refused. The directory's lock is held while the files go, so a
 * broker starting meanwhile is refused rather than opening a half-deleted store. Returns the
 * files removed.
 */
export declare function resetDataDir(dir: string): Promise<string[]>;
