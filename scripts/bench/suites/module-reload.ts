/**
 * Save-to-live latency when a shared module changes (not a test): two scripts import
 * lib/shared.js through lib/mid.js; each save of lib/shared.js is timed until both scripts
 * answer with the new version.
 *
 *   npm run bench -- module-reload [--reloads 15]
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectAsync } from 'mqtt'
import { pino } from 'pino'
import { Broker } from '../../../src/broker/broker.ts'
import { startScripting } from '../../../src/scripting/index.ts'
import { MemoryStore } from '../../../src/store/memory.ts'
import type { ModuleReloadOptions } from '../options.ts'
import { quantile } from '../stats.ts'

export async function run(options: ModuleReloadOptions): Promise<number> {
  const RELOADS = options.reloads
  const dir = await mkdtemp(join(tmpdir(), 'tinymqtt-bench-modules-'))
  await mkdir(join(dir, 'lib'))
  const shared = (version: string) => `export const version = '${version}'\n`
  await writeFile(join(dir, 'lib', 'shared.js'), shared('v0'))
  await writeFile(join(dir, 'lib', 'mid.js'), "export { version } from './shared.js'\n")
  for (const name of ['a', 'b']) {
    await writeFile(
      join(dir, `${name}.js`),
      `import { version } from './lib/mid.js'\nms_subscribe('bench/ping', () => ms_publish('bench/${name}', version))\n`,
    )
  }
  const broker = new Broker({
    port: 0,
    host: '127.0.0.1',
    logger: pino({ level: 'silent' }),
    store: new MemoryStore(),
  })
  await broker.start()
  const host = await startScripting(broker, { path: dir })
  const client = await connectAsync(`mqtt://127.0.0.1:${broker.port}`, { reconnectPeriod: 0 })
  await client.subscribeAsync(['bench/a', 'bench/b'])
  const latest = new Map<string, string>()
  client.on('message', (topic, payload) => latest.set(topic, payload.toString()))

  const latencies: number[] = []
  for (let i = 1; i <= RELOADS; i++) {
    const version = `v${i}`
    const t0 = performance.now()
    await writeFile(join(dir, 'lib', 'shared.js'), shared(version))
    const deadline = t0 + 10_000
    while (latest.get('bench/a') !== version || latest.get('bench/b') !== version) {
      if (performance.now() > deadline) throw new Error(`no reload to ${version}`)
      client.publish('bench/ping', '')
      await new Promise((r) => setTimeout(r, 2))
    }
    latencies.push(performance.now() - t0)
  }
  latencies.sort((a, b) => a - b)
  const pick = (q: number) => quantile(latencies, q).toFixed(0)
  console.log(
    `module save -> both importing scripts live: median ${pick(0.5)} ms, p90 ${pick(0.9)} ms, max ${pick(1)} ms (${RELOADS} saves, 100 ms debounce included)`,
  )
  await client.endAsync(true)
  await host.close()
  await broker.close()
  await rm(dir, { recursive: true, force: true })
  return 0
}
