// How the dashboard page itself behaves with 1,000 connected clients and 10,000 topics under a
// steady publish load: the broker (in this process, 127.0.0.1 only) and Debian's Chromium via
// playwright-core. Measured inside the page: navigation to the first painted Clients page, a
// page-forward click and a Topics expand until painted, and, over 10 s of live updates on each
// of the Clients and Topics views, the feed frames (size, time to parse and render) and the
// main thread's long tasks. Usage: npm run bench -- web-page [--clients n] [--rate messages/s]
// [--live-seconds n]. Exits 0 without Chromium.
import net from 'node:net'
import { cpus } from 'node:os'
import mqttPacket from 'mqtt-packet'
import { startBroker, webOf } from '../../../src/index.ts'
// The same browser lookup and launch as the browser tests, so the figures match what they drive.
import { CHROMIUM, chromiumMissing, launchChromium } from '../../../test/browser-helpers.ts'
import type { WebPageOptions } from '../options.ts'
import { ascending, quantile } from '../stats.ts'

const TOPICS_PER_CLIENT = 10
const BATCH = 100
/** Guard on every wait inside the page and for the whole run. */
const WAIT_MS = 15_000
const RUN_LIMIT_MS = 180_000

const id = (i: number): string => `scale-${String(i).padStart(4, '0')}`
const topicOf = (client: number, j: number): string => `scale/${id(client)}/${j}`

/**
 * Runs in the page before its own script: records long tasks (and long animation frames where
 * Chromium has them, since they include style and layout), times each feed frame's handler by
 * wrapping the WebSocket onmessage setter app.js uses, notes when the first Clients rows appear,
 * and offers __timeClick for click-to-painted measurements.
 */
const INIT = `
window.__perf = { longtasks: [], loafs: [], frames: [], firstClients: undefined }
const perf = window.__perf
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) perf.longtasks.push({ start: e.startTime, ms: e.duration })
}).observe({ type: 'longtask', buffered: true })
if (PerformanceObserver.supportedEntryTypes.includes('long-animation-frame'))
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) perf.loafs.push({ start: e.startTime, ms: e.duration })
  }).observe({ type: 'long-animation-frame', buffered: true })
// Table rows the page removed while handling a frame: 100 per frame means the page was rebuilt.
const rows = new MutationObserver(() => {})
rows.observe(document, { subtree: true, childList: true })
const removedRows = () => {
  let n = 0
  for (const r of rows.takeRecords())
    for (const node of r.removedNodes)
      if (node.nodeType === 1) n += node.nodeName === 'TR' ? 1 : node.querySelectorAll('tr').length
  return n
}
const setter = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onmessage')
Object.defineProperty(WebSocket.prototype, 'onmessage', {
  configurable: true,
  get: setter.get,
  set(fn) {
    setter.set.call(this, function (event) {
      removedRows()
      const start = performance.now()
      try {
        return fn.call(this, event)
      } finally {
        const frame = { start, ms: performance.now() - start, chars: event.data.length, rowsReplaced: removedRows() }
        perf.frames.push(frame)
        // Until the next paint: parse, render, style, layout and paint of this frame.
        painted().then(() => (frame.painted = performance.now() - start))
      }
    })
  },
})
const painted = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)))
function when(test) {
  return new Promise((resolve, reject) => {
    if (test()) return resolve()
    const observer = new MutationObserver(() => {
      if (!test()) return
      observer.disconnect()
      clearTimeout(timer)
      resolve()
    })
    const timer = setTimeout(() => {
      observer.disconnect()
      reject(new Error('condition not met in ${WAIT_MS} ms'))
    }, ${WAIT_MS})
    observer.observe(document, { subtree: true, childList: true, characterData: true })
  })
}
const has = (selector, text) => [...document.querySelectorAll(selector)].some((e) => e.textContent.includes(text))
window.__timeClick = async (button, selector, text) => {
  const target = document.querySelector(button)
  if (!target) throw new Error('no ' + button)
  const start = performance.now()
  target.click()
  await when(() => has(selector, text))
  const dom = performance.now() - start
  await painted()
  return { dom, painted: performance.now() - start }
}
document.addEventListener('DOMContentLoaded', () => {
  // Straight to Clients: the first frame the page asks for is then the 1,000-client view.
  document.querySelector('button[data-view=clients]').click()
  when(() => document.querySelector('#view-clients tr[data-client-row]')).then(async () => {
    await painted()
    perf.firstClients = performance.now()
  })
})
`

interface Timing {
  dom: number
  painted: number
}
interface Perf {
  longtasks: { start: number; ms: number }[]
  loafs: { start: number; ms: number }[]
  frames: { start: number; ms: number; chars: number; rowsReplaced: number; painted?: number }[]
  firstClients: number | undefined
}

/** What INIT adds to the page's global object. */
interface InPage {
  __perf: Perf
  __timeClick(button: string, selector: string, text: string): Promise<Timing>
}

/** A raw MQTT 3.1.1 connection: MQTT.js would take far longer to open a thousand. */
function connectRaw(port: number, clientId: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' })
    socket.setNoDelay(true)
    socket.once('error', reject)
    socket.once('connect', () =>
      socket.write(mqttPacket.generate({ cmd: 'connect', clientId, keepalive: 0, clean: true })),
    )
    socket.once('data', (data: Buffer) => {
      // CONNACK 0x20, length 2, flags, return code 0.
      if (data[0] === 0x20 && data[3] === 0) resolve(socket)
      else reject(new Error(`${clientId}: no CONNACK 0 (${data.toString('hex')})`))
    })
  })
}

const publishPacket = (topic: string, payload: string): Buffer =>
  mqttPacket.generate({ cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false })

const stats = (xs: number[]): { median: number; max: number } => {
  const s = ascending(xs)
  return s.length === 0 ? { median: 0, max: 0 } : { median: quantile(s, 0.5), max: quantile(s, 1) }
}
const ms = (n: number): string => `${n.toFixed(0)} ms`
const kb = (chars: number): string => `${(chars / 1024).toFixed(1)} KiB`

async function measure({
  clients: CLIENTS,
  rate: RATE,
  liveSeconds: LIVE_SECONDS,
}: WebPageOptions): Promise<void> {
  const broker = await startBroker({ port: 0, host: '127.0.0.1', logLevel: 'silent', http: 0 })
  const web = webOf(broker)
  if (web === undefined) throw new Error('the broker started without its dashboard')
  const base = `http://127.0.0.1:${web.port}`
  const sockets: net.Socket[] = []
  let load: NodeJS.Timeout | undefined
  const browser = await launchChromium({ timeout: WAIT_MS })
  try {
    const setupStart = performance.now()
    for (let start = 0; start < CLIENTS; start += BATCH) {
      const count = Math.min(BATCH, CLIENTS - start)
      sockets.push(
        ...(await Promise.all(
          Array.from({ length: count }, (_, k) => connectRaw(broker.port, id(start + k))),
        )),
      )
    }
    // With no page open only retained and device topics are kept: a read of the topics view
    // records every topic from then on (for 60 s, and while the page is open).
    await fetch(`${base}/api/view/topics`)
    for (const [i, socket] of sockets.entries()) {
      const topics = Array.from({ length: TOPICS_PER_CLIENT }, (_, j) => publishPacket(topicOf(i, j), '0'))
      socket.write(Buffer.concat(topics))
    }
    // The broker view's JSON counts the topics the dashboard has indexed.
    const indexed = async (): Promise<number> =>
      ((await (await fetch(`${base}/api/view/broker`)).json()) as { topics: number }).topics
    while ((await indexed()) < CLIENTS * TOPICS_PER_CLIENT) {
      if (performance.now() - setupStart > WAIT_MS) throw new Error('topics not indexed in time')
      await new Promise((r) => setTimeout(r, 50))
    }
    console.log(
      `setup: ${CLIENTS} clients, ${await indexed()} topics in ${ms(performance.now() - setupStart)}`,
    )

    // The steady load: every 50 ms, RATE/20 messages, each from the client that owns its topic.
    // Topics are visited in a scattered order (a stride coprime with their count) so that every
    // page of the tree sees changes, as with devices reporting at their own pace.
    let sent = 0
    let next = 0
    const perTick = Math.max(1, Math.round(RATE / 20))
    const topicCount = CLIENTS * TOPICS_PER_CLIENT
    load = setInterval(() => {
      for (let k = 0; k < perTick; k++, next++) {
        const n = (next * 7919) % topicCount
        const client = Math.floor(n / TOPICS_PER_CLIENT)
        const topic = topicOf(client, n % TOPICS_PER_CLIENT)
        sockets[client]?.write(publishPacket(topic, JSON.stringify({ POWER: 'ON', n: next })))
      }
      sent += perTick
    }, 50)
    const loadStart = performance.now()

    const { page, errors } = browser
    await page.addInitScript({ content: INIT })
    await page.goto(base)
    // Functions, not strings: the dashboard's CSP forbids eval, which string predicates use.
    await page.waitForFunction(
      () => (globalThis as unknown as InPage).__perf.firstClients !== undefined,
      undefined,
      {
        timeout: WAIT_MS,
      },
    )
    const first = await page.evaluate(
      () => (globalThis as unknown as InPage).__perf.firstClients ?? Number.NaN,
    )

    const timeClick = async (button: string, selector: string, text: string): Promise<Timing> =>
      page.evaluate(([b, s, t]) => (globalThis as unknown as InPage).__timeClick(b, s, t), [
        button,
        selector,
        text,
      ] as const)
    const pages: Timing[] = []
    for (let offset = 100; offset <= 500; offset += 100) {
      pages.push(
        await timeClick(
          `#view-clients .pager button[data-offset="${offset}"]`,
          '#view-clients .pager',
          `${(offset + 1).toLocaleString('en')}–`,
        ),
      )
    }

    // A keyboard user on a row's button: does it still have the focus after the live frames?
    const live = async (button: string): Promise<Perf & { from: number; to: number; focusKept: boolean }> => {
      await page.focus(button)
      const from = await page.evaluate(() => performance.now())
      await new Promise((r) => setTimeout(r, LIVE_SECONDS * 1000))
      const perf = await page.evaluate(() => (globalThis as unknown as InPage).__perf)
      const to = await page.evaluate(() => performance.now())
      const focusKept = await page.$eval(button, (b) => b === b.ownerDocument.activeElement)
      return { ...perf, from, to, focusKept }
    }
    const liveClients = await live('#view-clients tr[data-client-row] button[data-disconnect]')

    await timeClick('button[data-view=topics]', '#view-topics .content p', 'topics')
    const expand: Timing[] = []
    expand.push(
      await timeClick(
        '#view-topics tr[data-topic="scale"] button[data-expand]',
        '#view-topics .pager',
        // The expanded level and its one row per client.
        `of ${(CLIENTS + 1).toLocaleString('en')}`,
      ),
    )
    // Open nine devices so the first page holds 90 topics the load keeps changing.
    for (let i = 0; i < 9; i++) {
      expand.push(
        await timeClick(
          `#view-topics tr[data-topic="scale/${id(i)}"] button[data-expand]`,
          `#view-topics tr[data-topic="${topicOf(i, 0)}"]`,
          '',
        ),
      )
    }
    const liveTopics = await live(`#view-topics tr[data-topic="scale/${id(4)}"] button[data-expand]`)
    const elapsed = (performance.now() - loadStart) / 1000
    clearInterval(load)
    load = undefined

    const version = browser.context.browser()?.version() ?? CHROMIUM
    console.log(
      `\n${CLIENTS.toLocaleString('en')} clients, ${(CLIENTS * TOPICS_PER_CLIENT).toLocaleString('en')} topics, ` +
        `${Math.round(sent / elapsed)} messages/s; Chromium ${version}; ${cpus().length} cores shared by broker, load and browser\n`,
    )
    const rows: [string, string][] = [
      ['navigation → first Clients page painted', ms(first)],
      [
        'Clients page-forward click → painted (5 clicks)',
        `median ${ms(stats(pages.map((p) => p.painted)).median)}, max ${ms(stats(pages.map((p) => p.painted)).max)}`,
      ],
      [
        'Topics expand click → painted (10 clicks)',
        `median ${ms(stats(expand.map((p) => p.painted)).median)}, max ${ms(stats(expand.map((p) => p.painted)).max)}`,
      ],
    ]
    for (const [name, run] of [
      ['Clients', liveClients],
      ['Topics', liveTopics],
    ] as const) {
      const inRun = <T extends { start: number }>(xs: T[]): T[] =>
        xs.filter((x) => x.start >= run.from && x.start < run.to)
      const frames = inRun(run.frames)
      const size = stats(frames.map((f) => f.chars))
      const handler = stats(frames.map((f) => f.ms))
      const toPaint = stats(frames.flatMap((f) => (f.painted === undefined ? [] : [f.painted])))
      const replaced = stats(frames.map((f) => f.rowsReplaced))
      const longtasks = inRun(run.longtasks)
      const loafs = inRun(run.loafs)
      const prefix = `live ${LIVE_SECONDS} s on ${name}:`
      rows.push(
        [`${prefix} feed frames`, `${frames.length}, median ${kb(size.median)}, max ${kb(size.max)}`],
        [`${prefix} parse + render per frame`, `median ${ms(handler.median)}, max ${ms(handler.max)}`],
        [`${prefix} frame → painted`, `median ${ms(toPaint.median)}, max ${ms(toPaint.max)}`],
        [`${prefix} table rows replaced per frame`, `median ${replaced.median}, max ${replaced.max}`],
        [`${prefix} focused row button`, run.focusKept ? 'kept its focus' : 'lost its focus'],
        [
          `${prefix} long tasks (> 50 ms)`,
          `${longtasks.length}, total ${ms(longtasks.reduce((a, t) => a + t.ms, 0))}, max ${ms(stats(longtasks.map((t) => t.ms)).max)}`,
        ],
        [`${prefix} long animation frames`, `${loafs.length}, max ${ms(stats(loafs.map((t) => t.ms)).max)}`],
      )
    }
    const width = Math.max(...rows.map(([name]) => name.length))
    for (const [name, value] of rows) console.log(`${name.padEnd(width)}  ${value}`)
    if (errors.length > 0) console.log(`page errors: ${errors.join('; ')}`)
  } finally {
    if (load !== undefined) clearInterval(load)
    await browser.close()
    for (const socket of sockets) socket.destroy()
    await broker.close()
  }
}

export async function run(options: WebPageOptions): Promise<number> {
  if (chromiumMissing !== undefined) {
    console.log(`bench web-page: skipped, ${chromiumMissing}`)
    return 0
  }
  // A stuck browser or broker must not keep the run alive.
  const guard = setTimeout(() => {
    console.error(`bench web-page: gave up after ${RUN_LIMIT_MS / 1000} s`)
    process.exit(1)
  }, RUN_LIMIT_MS)
  guard.unref()
  await measure(options)
  return 0
}
