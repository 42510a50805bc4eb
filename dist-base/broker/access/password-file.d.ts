/**
 * A password hash in one of the formats `mosquitto_passwd` writes:
 * `$7$<iterations>$<salt>$<hash>` (PBKDF2-HMAC-SHA512, Mosquitto 2's default) or
 * `$6$<salt>$<hash>` (SHA-512 of password then salt, `-H sha512`), salt and hash in base64.
 */
export type PasswordHash = {
    kind: 'pbkdf2-sha512';
    iterations: number;
    salt: Buffer;
    hash: Buffer;
} | {
    kind: 'sha512';
    salt: Buffer;
    hash: Buffer;
};
export declare class PasswordFileError extends Error {
}
/** Parses `user:hash` lines; blank lines and `#` comments are skipped. Errors name the line. */
export declare function parsePasswordFile(text: string): Map<string, PasswordHash>;
export declare function verifyPassword(hash: PasswordHash, password: Buffer): boolean;
/** A `$7$` hash line value, the way `mosquitto_passwd` writes it. */
export declare function hashPassword(password: string, iterations?: number): string;
/**
 * Adds or changes (or, with `password` undefined, removes) one user, keeping every other line
 * as it was. Written to a temporary file and renamed, so a broker watching the file never
 * reads half of it. Returns whether the user existed before.
 */
export declare function updatePasswordFile(path: string, user: string, password: string | undefined): Promise<boolean>;
