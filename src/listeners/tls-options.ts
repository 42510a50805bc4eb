import { readFile } from 'node:fs/promises'
import type { TlsOptions } from 'node:tls'
import type { TlsFiles } from './types.ts'

/**
 * Reads the PEM files of a TLS or WSS listener. With a CA, clients must present a certificate
 * it signed (Mosquitto's require_certificate), unless `certificateOptional` is set.
 */
export async function readTlsOptions(files: TlsFiles): Promise<TlsOptions> {
  const [cert, key, ca] = await Promise.all([
    readPem(files.cert, 'certificate'),
    readPem(files.key, 'key'),
    files.ca === undefined ? undefined : readPem(files.ca, 'CA file'),
  ])
  return {
    cert,
    key,
    ...(ca === undefined
      ? {}
      : { ca, requestCert: true, rejectUnauthorized: files.certificateOptional !== true }),
  }
}

async function readPem(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path)
  } catch (error) {
    throw new Error(
      `cannot read TLS ${what} ${path}: ${error instanceof Error ? error.message : String(error)}`,
    )
  }
}
