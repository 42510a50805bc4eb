/** The table printed at the end of a run and the JSON file written next to it. */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { BrokerName } from './brokers.ts'
import type { Measurement, Metric } from './scenarios/types.ts'

export type Outcome = Measurement | { error: string }
/** results[broker][scenario] */
export type Results = Partial<Record<BrokerName, Record<string, Outcome>>>

const COLUMNS: readonly BrokerName[] = ['tinymqtt', 'mosquitto', 'aedes', 'node-floor']

export function figure(
  results: Results,
  broker: BrokerName,
  metric: Metric,
  scenario: string,
): number | undefined {
  const outcome = results[broker]?.[scenario]
  if (outcome === undefined || 'error' in outcome) return undefined
  const value = outcome.values[metric.id]
  return value === undefined || Number.isNaN(value) ? undefined : value
}

export function format(value: number | undefined, unit: Metric['unit']): string {
  if (value === undefined) return '—'
  switch (unit) {
    case 'msg/s':
    case 'conn/s':
      return value >= 1e6
        ? `${(value / 1e6).toFixed(2)}M`
        : value >= 1e3
          ? `${(value / 1e3).toFixed(1)}k`
          : value.toFixed(0)
    case 'us':
      return `${value.toFixed(0)} µs`
    case 'bytes':
      return Math.abs(value) >= 1e6 ? `${(value / 1e6).toFixed(1)} MB` : `${(value / 1e3).toFixed(1)} kB`
    case 'count':
      return value.toFixed(0)
  }
}

export function percent(fraction: unknown): string {
  return typeof fraction === 'number' && !Number.isNaN(fraction) ? `${(fraction * 100).toFixed(0)}%` : '—'
}

/** One line per broker and scenario while the run goes: the figures and the CPU columns. */
export function summary(m: Measurement, metrics: Metric[]): string {
  const figures = metrics.map((metric) => format(m.values[metric.id], metric.unit)).join(' / ')
  const d = m.details
  const cpu =
    'brokerCpu' in d
      ? `  (cpu: broker ${percent(d.brokerCpu)} wait ${percent(d.brokerWait)}, load ${percent(d.loadCpu)} wait ${percent(d.loadWait)})`
      : ''
  return `${figures}${cpu}`
}

function ratio(a: number | undefined, b: number | undefined): string {
  // A ratio of counts that can be zero or negative (losses, RSS growth) says nothing.
  if (a === undefined || b === undefined || a <= 0 || b <= 0) return '—'
  return `${(a / b).toFixed(2)}×`
}

export function table(rows: { metric: Metric; scenario: string }[], results: Results): string {
  const header = ['metric', ...COLUMNS, 'tiny/mosq', 'tiny/aedes', 'better']
  const body = rows.map(({ metric, scenario }) => {
    const v = (b: BrokerName) => figure(results, b, metric, scenario)
    return [
      metric.label,
      ...COLUMNS.map((b) => format(v(b), metric.unit)),
      ratio(v('tinymqtt'), v('mosquitto')),
      ratio(v('tinymqtt'), v('aedes')),
      metric.better,
    ]
  })
  // Rows shorter than the header (none are) would just count as empty cells.
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]?.length ?? 0)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => {
        const width = widths[i] ?? 0
        return i === 0 ? c.padEnd(width) : c.padStart(width)
      })
      .join('  ')
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...body.map(line)].join('\n')
}

/** A child's stack trace is in the JSON; the table's notes keep the first lines that say what happened. */
function condense(error: string): string {
  const lines = error
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^\s+at /.test(l) && !l.startsWith('Node.js v'))
  const text = lines.slice(0, 4).join(' | ')
  return text.length > 400 ? `${text.slice(0, 400)}…` : text
}

/** Notes and errors per broker and scenario, so a suspect figure is never shown bare. */
export function notes(results: Results): string[] {
  const out: string[] = []
  for (const broker of COLUMNS) {
    for (const [scenario, outcome] of Object.entries(results[broker] ?? {})) {
      if ('error' in outcome) out.push(`${broker} ${scenario}: FAILED: ${condense(outcome.error)}`)
      else for (const n of outcome.notes) out.push(`${broker} ${scenario}: ${n}`)
    }
  }
  return out
}

/** Writes bench-results/<timestamp>.json and returns its path. */
export function writeJson(dir: string, startedAt: Date, data: unknown): string {
  mkdirSync(dir, { recursive: true })
  const path = join(dir, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`)
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`)
  return path
}
