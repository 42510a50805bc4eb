import { readFile } from 'node:fs/promises';
/**
 * Reads the PEM files of a TLS or WSS listener. With a CA, clients must present a certificate
 * it signed (Mosquitto's require_certificate), unless `certificateOptional` is set.
 */
export async function readTlsOptions(files) {
    const [cert, key, ca] = await Promise.all([
        readPem(files.cert, 'certificate'),
        readPem(files.key, 'key'),
        files.ca === undefined ? undefined : readPem(files.ca, 'CA file'),
    ]);
    return {
        cert,
        key,
        ...(ca === undefined
            ? {}
            : { ca, requestCert: true, rejectUnauthorized: files.certificateOptional !== true }),
    };
}
async function readPem(path, what) {
    try {
        return await readFile(path);
    }
    catch (error) {
        throw new Error(`cannot read TLS ${what} ${path}: ${error instanceof Error ? error.message : String(error)}`);
    }
}
//# sourceMappingURL=tls-options.js.map