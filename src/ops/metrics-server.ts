import { createServer, type Server } from 'node:http'
import type { Logger } from 'pino'
import { listenOn } from '../util/listen.ts'

/** Answers one scrape: the exposition text and its content type. */
export type Scrape = () => Promise<{ body: string; contentType: string }>

/**
 * A tiny HTTP server for `--metrics-port`: GET /metrics and nothing else, for those who run
 * Prometheus without the dashboard. No authentication, as Prometheus exporters go: bind it
 * (--host) where only the scraper reaches it.
 */
export async function startMetricsServer(
  port: number,
  host: string,
  scrape: Scrape,
  logger: Logger,
): Promise<{ port: number; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
      res.end('not found: the metrics are at /metrics\n')
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
