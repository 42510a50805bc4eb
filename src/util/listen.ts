import type { Server } from 'node:net'

/**
 * Listens on `port`/`host` and resolves with the bound port (the real one for port 0). A
 * failure to bind (EADDRINUSE, EACCES …) rejects and leaves no listener behind, so the caller
 * may keep serving on what it had; errors after that are the caller's to handle.
 */
export function listenOn(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      const address = server.address()
      resolve(typeof address === 'object' && address ? address.port : port)
    })
  })
}
