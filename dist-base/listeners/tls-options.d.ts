import type { TlsOptions } from 'node:tls';
import type { TlsFiles } from './types.ts';
/**
 * Reads the PEM files of a TLS or WSS listener. With a CA, clients must present a certificate
 * it signed (Mosquitto's require_certificate), unless `certificateOptional` is set.
 */
export declare function readTlsOptions(files: TlsFiles): Promise<TlsOptions>;
