import { createServer } from 'node:tls'
import type { CertificateIdentities } from '../broker/access/certificate-identities.ts'
import type { Broker } from '../broker/broker.ts'
import { listenOn } from '../util/listen.ts'
import { maxTimerDelayMs } from '../util/long-timer.ts'
import { type AdmitContext, admit, dropPending } from './admit.ts'
import { limitConnections, stopAccepting } from './server.ts'
import { readTlsOptions } from './tls-options.ts'
import type { Listener, ListenerCommon, TlsFiles } from './types.ts'

/** MQTT over TLS (port 8883 by convention). */
export async function startTlsListener(
  broker: Broker,
  spec: ListenerCommon & TlsFiles,
  identities: CertificateIdentities | undefined,
): Promise<Listener> {
  const context: AdmitContext = {
    broker,
    name: `tls:${spec.port}`,
    identities: spec.useIdentityAsUsername ? identities : undefined,
    pending: new Set(),
    closed: false,
  }
  if (spec.useIdentityAsUsername && !identities)
    throw new Error('useIdentityAsUsername needs the access control')
  const server = createServer({
    ...(await readTlsOptions(spec)),
    // A client stuck in the handshake counts against the connect timeout too; Node's socket
    // timer cannot take more than 24.8 days (a longer one would fire at once).
    handshakeTimeout: Math.min(Math.max(broker.options.connectTimeout, 1) * 1000, maxTimerDelayMs),
  })
  server.on('secureConnection', (socket) => admit(context, socket, socket))
  // A failed handshake (wrong certificate, plain MQTT on the TLS port …) ends that socket only.
  server.on('tlsClientError', (error, socket) => {
    broker.logger.warn(
      { listener: context.name, address: socket.remoteAddress, reason: error.message },
      'TLS handshake failed',
    )
  })
  limitConnections(server, spec.maxConnections, context.name, broker.logger)
  const port = await listenOn(server, spec.port, spec.host ?? broker.options.host)
  context.name = `tls:${port}`
  server.on('error', (error) => broker.logger.error({ err: error, listener: context.name }, 'listener error'))
  return {
    type: 'tls',
    name: context.name,
    port,
    get listening() {
      return server.listening
    },
    close: async () => {
      stopAccepting(server)
      dropPending(context)
    },
  }
}
