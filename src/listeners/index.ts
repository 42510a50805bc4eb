/**
 * src/listeners: the listeners beside the broker's own TCP port: plain TCP, TLS, MQTT over
 * WebSocket and over secure WebSocket, each handing its client streams to Broker.accept.
 *
 * Owns: one module per kind (tcp.ts, tls.ts, websocket.ts), their config (config.ts, types.ts,
 * tls-options.ts), what they share (server.ts: connection caps; admit.ts: handing a stream to
 * the broker) and the TLS client certificate as user name (certificate-username.ts, with
 * CertificateIdentities from broker/access).
 *
 * Must not import: src/scripting, src/web, src/bridge, src/cluster, src/store, src/testing, the
 * entry points in src/. The broker does not import this folder; the embedder starts the
 * listeners (src/index.ts), and the dashboard lists them (.dependency-cruiser.cjs).
 */
import type { CertificateIdentities } from '../broker/access/certificate-identities.ts'
import type { Broker } from '../broker/broker.ts'
import { startTcpListener } from './tcp.ts'
import { startTlsListener } from './tls.ts'
import type { Listener, ListenerSpec } from './types.ts'
import { startWebSocketListener } from './websocket.ts'

export { checkListenerSpec, listenersFromShorthands, parseListenerSpecs } from './config.ts'
export type { Listener, ListenerSpec, ListenerType, TlsFiles } from './types.ts'
export { attachMqttWebSocket } from './websocket.ts'

const running = new WeakMap<Broker, Listener[]>()

/** The extra listeners started for a broker by startListeners (its own TCP listener not included). */
export function listenersOf(broker: Broker): readonly Listener[] {
  return running.get(broker) ?? []
}

/**
 * Starts every listener in `specs` next to the broker's own TCP listener and registers their
 * closing with the broker. All or nothing: when one cannot start, those already started stop.
 * `identities` is needed by listeners that take the user name from the client certificate.
 */
export async function startListeners(
  broker: Broker,
  specs: readonly ListenerSpec[],
  identities?: CertificateIdentities,
): Promise<Listener[]> {
  const started: Listener[] = []
  try {
    for (const spec of specs) {
      const listener = await startListener(broker, spec, identities)
      started.push(listener)
      broker.logger.info(
        { listener: listener.name, host: spec.host ?? broker.options.host, port: listener.port },
        `${listener.type.toUpperCase()} listener started`,
      )
    }
  } catch (error) {
    await Promise.all(started.map((listener) => listener.close()))
    throw error
  }
  running.set(broker, [...(running.get(broker) ?? []), ...started])
  broker.addCloseHook(async () => {
    await Promise.all(started.map((listener) => listener.close()))
  })
  return started
}

function startListener(
  broker: Broker,
  spec: ListenerSpec,
  identities: CertificateIdentities | undefined,
): Promise<Listener> {
  switch (spec.type) {
    case 'tcp':
      return startTcpListener(broker, spec)
    case 'tls':
      return startTlsListener(broker, spec, identities)
    case 'ws':
    case 'wss':
      return startWebSocketListener(broker, spec, identities)
  }
}
