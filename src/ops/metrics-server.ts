import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import { listenOn } from '../util/listen.ts'

/** Answers one scrape: the exposition text and its content type. */
export type Scrape = () => Promise<{ body: string; contentType: string }>

/**
 * A tiny HTTP server for `--metrics-port`: GET /metrics and the health check (/healthz, which
 * `health` answers), for those who run Prometheus and probes without the dashboard. No authentication, as Prometheus exporters go: bind it
 * (--host) where only the scraper reaches it.
 */
export async function startMetricsServer(
  port: number,
  host: string,
  scrape: Scrape,
  logger: Logger,
  health: (req: IncomingMessage, res: ServerResponse) => boolean,
): Promise<{ port: number; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (health(req, res)) return
    const path = (req.url ?? '/').split('?')[0]
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
      res.end('not found: the metrics are at /metrics, the health check at /healthz\n')
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' })
      res.end('method not allowed\n')
      return
    }
    scrape().then(
      ({ body, contentType }) => {
        res.writeHead(200, { 'content-type': contentType })
        res.end(req.method === 'HEAD' ? undefined : body)
      },
      (error: unknown) => {
        logger.error({ err: error }, 'metrics scrape failed')
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
        res.end('scrape failed\n')
      },
    )
  })
  const bound = await listenOn(server, port, host)
  server.on('error', (error) => logger.error({ err: error }, 'metrics server error'))
  logger.info({ host, port: bound }, 'metrics server started')
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
