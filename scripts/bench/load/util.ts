/** Small helpers shared by the load scenarios. */

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** CPU used by this process since `from`, as a fraction of one core over `wallMs`. */
export function cpuFraction(from: NodeJS.CpuUsage, wallMs: number): number {
  const used = process.cpuUsage(from)
  return wallMs > 0 ? (used.user + used.system) / 1000 / wallMs : 0
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** Keeps the first few distinct errors: enough to diagnose, bounded in size. */
export class ErrorLog {
  readonly list: string[] = []
  add(err: unknown): void {
    const text = errorText(err)
    if (this.list.length < 10 && !this.list.includes(text)) this.list.push(text)
  }
}

/** Waits until `value()` stops changing for `quietMs`, or `maxMs` passes. */
export async function settle(value: () => number, quietMs: number, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs
  let last = value()
  let stableSince = Date.now()
  while (Date.now() < deadline) {
    await sleep(Math.min(50, quietMs))
    const now = value()
    if (now !== last) {
      last = now
      stableSince = Date.now()
    } else if (Date.now() - stableSince >= quietMs) return
  }
}
