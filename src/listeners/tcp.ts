import { createServer } from 'node:net'
import type { Broker } from '../broker/broker.ts'
import { listenOn } from '../util/listen.ts'
import { limitConnections, stopAccepting } from './server.ts'
import type { Listener, ListenerCommon } from './types.ts'

/** An extra plain MQTT listener (the broker's own TCP listener is `port`). */
export async function startTcpListener(broker: Broker, spec: ListenerCommon): Promise<Listener> {
  let name = `tcp:${spec.port}`
  const server = createServer((socket) => broker.accept(socket, name))
  limitConnections(server, spec.maxConnections, name, broker.logger)
  const port = await listenOn(server, spec.port, spec.host ?? broker.options.host)
  name = `tcp:${port}`
  server.on('error', (error) => broker.logger.error({ err: error, listener: name }, 'listener error'))
  return {
    type: 'tcp',
    name,
    port,
    get listening() {
      return server.listening
    },
    close: async () => stopAccepting(server),
  }
}
