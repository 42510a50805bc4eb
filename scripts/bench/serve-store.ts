/**
 * The store suite's broker, in its own process: `node --import tsx serve-store.ts <memory|data dir>`.
 * Prints `PORT <n>`; on SIGTERM prints how long its event loop was held up
 * (`LOOP p50 … p99 … max …`, ms) and exits.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { startBroker } from '../../src/index.ts'

const target = process.argv[2]
if (target === undefined) throw new Error('usage: serve-store.ts <memory|data dir>')
const broker = await startBroker({
  port: 0,
  host: '127.0.0.1',
  logLevel: 'silent',
  maxQueuedMessages: 1_000_000,
  ...(target === 'memory' ? {} : { data: target }),
})
// How long the event loop was held up while serving: it must not wait for the disk.
const loop = monitorEventLoopDelay({ resolution: 5 })
loop.enable()
process.stdout.write(`PORT ${broker.port}\n`)
process.on('SIGTERM', () => {
  loop.disable()
  const ms = (ns: number) => (ns / 1e6).toFixed(1)
  process.stdout.write(
    `LOOP p50 ${ms(loop.percentile(50))} p99 ${ms(loop.percentile(99))} max ${ms(loop.max)}\n`,
  )
  void broker.close().then(() => process.exit(0))
})
