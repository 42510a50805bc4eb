/**
 * Waits for a promise at most `ms`. A NATS request caught by an outage can stay pending for
 * good (the client keeps it while it reconnects), and code that awaits one — a heartbeat, a
 * sweep, a shutdown — must go on regardless. The promise is left to settle on its own; a late
 * rejection is swallowed, since nobody waits for it any more.
 */
export async function settleWithin<T>(
  promise: Promise<T>,
  ms: number,
): Promise<{ done: true; value: T } | { done: false }> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<{ done: false }>((resolve) => {
    timer = setTimeout(() => resolve({ done: false }), ms)
    // A guard alone never keeps the process running.
    timer.unref()
  })
  promise.catch(() => {})
  try {
    return await Promise.race([promise.then((value) => ({ done: true as const, value })), late])
  } finally {
    clearTimeout(timer)
  }
}
