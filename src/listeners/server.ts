import type { Server } from 'node:net'
import type { Logger } from 'pino'

/**
 * Caps connections at accept, before any TLS or HTTP work is spent on them: Node's own
 * `maxConnections` closes the extra socket at once and reports it with 'drop'.
 */
export function limitConnections(
  server: Server,
  max: number | undefined,
  name: string,
  logger: Logger,
): void {
  if (max !== undefined) server.maxConnections = max
  server.on('drop', (data) => {
    logger.warn(
      { listener: name, address: data?.remoteAddress, port: data?.remotePort, maxConnections: max },
      'connection refused: listener at its connection limit',
    )
  })
}

/** Stops accepting. Sockets already handed to the broker stay; the broker closes those. */
export function stopAccepting(server: Server): void {
  if (server.listening) server.close()
}

/** The CN of a certificate subject (Node gives a string, or an array when it repeats). */
export function commonName(subject: { CN?: string | string[] } | undefined): string | undefined {
  const cn = subject?.CN
  const value = Array.isArray(cn) ? cn[0] : cn
  return value === '' ? undefined : value
}
