/**
 * Shared tail of the broker entry points: announce the port on stdout for the
 * orchestrator, and shut down when told to (SIGTERM) or when the orchestrator is gone
 * (IPC disconnect), so a killed benchmark leaves no broker running.
 */
export function announce(port: number, close: () => Promise<void>): void {
  let closing = false
  const shutdown = (code: number): void => {
    if (closing) return
    closing = true
    const forced = setTimeout(() => process.exit(code), 2000)
    forced.unref()
    close().then(
      () => process.exit(code),
      () => process.exit(1),
    )
  }
  process.on('SIGTERM', () => shutdown(0))
  process.on('SIGINT', () => shutdown(0))
  process.on('disconnect', () => shutdown(1))
  // The memory scenarios ask for the heap and off-heap split of the RSS they read from /proc.
  process.on('message', (msg: unknown) => {
    if (msg === 'memory') process.send?.({ memory: process.memoryUsage() })
  })
  process.stdout.write(`READY ${port}\n`)
}

export function portArg(): number {
  const port = Number(process.argv[2] ?? '0')
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad port ${process.argv[2]}`)
  return port
}
