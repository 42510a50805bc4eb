import type { IncomingMessage, ServerResponse } from 'node:http'
import { bridgesOf } from '../bridge/index.ts'
import type { Broker } from '../broker/broker.ts'
import { listenersOf } from '../listeners/index.ts'
import type { Store } from '../store/store.ts'
import { scriptSlotOf } from './script-slot.ts'

/** The path the health check answers on. */
export const healthPath = '/healthz'

/** How long the store may take to commit before the check calls it failing. */
const storeTimeoutMs = 5000

export interface HealthReport {
  /** `ok` (HTTP 200) unless a listener is down or the store cannot commit (`failing`, HTTP 503). */
  status: 'ok' | 'failing'
  /** What makes it fail, one sentence each; empty when ok. */
  problems: string[]
  /** The broker's own MQTT listener (`mqtt`) and the extra ones. */
  listeners: { name: string; port: number; listening: boolean }[]
  /** Absent for a broker not started by startBroker. */
  store?: { durable: boolean; writable: boolean; error?: string }
  /** Absent when no scripts run. `failed`: scripts whose last load failed. */
  scripts?: { total: number; running: number; failed: number }
  /** The bridges' connection to their remote broker; a remote being down is not a failure here. */
  bridges: { name: string; connected: boolean }[]
}

const stores = new WeakMap<Broker, Store>()

/** Tells the health check which store a broker writes to (startBroker does). */
export function registerHealthStore(broker: Broker, store: Store): void {
  stores.set(broker, store)
}

/** Builds the health report of a running broker; the store is checked with a real commit. */
export async function healthReport(broker: Broker): Promise<HealthReport> {
  const problems: string[] = []
  const listeners = [
    { name: 'mqtt', port: broker.port, listening: broker.listening },
    ...listenersOf(broker).map(({ name, port, listening }) => ({ name, port, listening })),
  ]
  for (const l of listeners) if (!l.listening) problems.push(`listener ${l.name} is not listening`)
  const report: HealthReport = { status: 'ok', problems, listeners, bridges: [] }
  const store = stores.get(broker)
  if (store) {
    const error = await storeError(store)
    report.store = { durable: store.durable, writable: error === undefined }
    if (error !== undefined) {
      report.store.error = error
      problems.push(`the store cannot commit: ${error}`)
    }
  }
  const slot = scriptSlotOf(broker)
  if (slot?.options) {
    const scripts = slot.scripts()
    report.scripts = {
      total: scripts.length,
      running: scripts.filter((s) => s.status !== 'error' && s.status !== 'stopped').length,
      failed: scripts.filter((s) => s.status === 'error').length,
    }
  }
  report.bridges = (bridgesOf(broker)?.status() ?? []).map(({ name, connected }) => ({ name, connected }))
  if (problems.length > 0) report.status = 'failing'
  return report
}

/** Undefined when the store commits; otherwise why not. */
async function storeError(store: Store): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no commit within ${storeTimeoutMs / 1000} s`), storeTimeoutMs)
  })
  const commit = (store.probe ? store.probe() : store.flush()).then(
    () => undefined,
    (error: unknown) => (error instanceof Error ? error.message : String(error)),
  )
  try {
    return await Promise.race([commit, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * A request handler any HTTP server can mount before its own routes: answers `GET /healthz`
 * (and HEAD) with the report as JSON, 200 or 503, and returns true; false for other requests.
 * It asks for no credentials, so probes can reach it: the report names no client or topic.
 */
export function healthHandler(broker: Broker): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0]
    if (path !== healthPath || (req.method !== 'GET' && req.method !== 'HEAD')) return false
    healthReport(broker).then(
      (report) => {
        const body = `${JSON.stringify(report)}\n`
        res.writeHead(report.status === 'ok' ? 200 : 503, {
          'content-type': 'application/json; charset=utf-8',
          'cache-control': 'no-store',
        })
        res.end(req.method === 'HEAD' ? undefined : body)
      },
      (error: unknown) => {
        broker.logger.error({ err: error }, 'health check failed')
        res.writeHead(503, { 'content-type': 'application/json; charset=utf-8' })
        res.end(`${JSON.stringify({ status: 'failing', problems: ['the health check itself failed'] })}\n`)
      },
    )
    return true
  }
}
