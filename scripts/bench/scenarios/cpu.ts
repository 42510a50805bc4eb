/**
 * CPU use and run-queue wait of the broker and of the load generator over the measured
 * window, read from /proc at the generator's marks. A broker near 100% CPU with little
 * wait was the bottleneck; a large wait on either side means the machine was busy and
 * the figure is low by about that much.
 */
import { cpuSeconds, runWaitSeconds } from '../procs.ts'

export interface CpuFigures {
  brokerCpu: number
  brokerWait: number
  loadCpu: number
  loadWait: number
}

interface Sample {
  at: number
  brokerCpu: number
  brokerWait: number
  loadCpu: number
  loadWait: number
}

function sample(brokerPid: number, loadPid: number): Sample | undefined {
  const at = performance.now()
  const brokerCpu = cpuSeconds(brokerPid)
  const brokerWait = runWaitSeconds(brokerPid)
  const loadCpu = cpuSeconds(loadPid)
  const loadWait = runWaitSeconds(loadPid)
  if (
    brokerCpu === undefined ||
    brokerWait === undefined ||
    loadCpu === undefined ||
    loadWait === undefined
  ) {
    return undefined
  }
  return { at, brokerCpu, brokerWait, loadCpu, loadWait }
}

export class CpuWindow {
  private from: Sample | undefined
  figures: CpuFigures | undefined

  constructor(private readonly brokerPid: number) {}

  readonly onMark = (name: 'measure-start' | 'measure-end', loadPid: number): void => {
    const now = sample(this.brokerPid, loadPid)
    if (now === undefined) return
    if (name === 'measure-start') {
      this.from = now
      return
    }
    const from = this.from
    if (from === undefined) return
    const secs = (now.at - from.at) / 1000
    this.figures = {
      brokerCpu: (now.brokerCpu - from.brokerCpu) / secs,
      brokerWait: (now.brokerWait - from.brokerWait) / secs,
      loadCpu: (now.loadCpu - from.loadCpu) / secs,
      loadWait: (now.loadWait - from.loadWait) / secs,
    }
  }

  /** Notes for the report when the machine visibly interfered. */
  notes(): string[] {
    const f = this.figures
    if (f === undefined) return []
    const out: string[] = []
    if (f.brokerWait > 0.05)
      out.push(`broker waited ${(f.brokerWait * 100).toFixed(0)}% of the window for a CPU (busy machine)`)
    if (f.loadWait > 0.05)
      out.push(`load generator waited ${(f.loadWait * 100).toFixed(0)}% of the window for a CPU`)
    if (f.loadCpu > 0.9)
      out.push(`load generator at ${(f.loadCpu * 100).toFixed(0)}% CPU: the figure may be generator-bound`)
    return out
  }
}
