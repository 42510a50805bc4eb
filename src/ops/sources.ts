/**
 * What the monitoring layer reads besides the broker: the scripting host's and the bridges'
 * state, described here by shape so src/ops depends on neither (src/index.ts adapts them).
 */

/** One script, as $SYS and Prometheus show it. */
export interface MonitoredScript {
  name: string
  /** The scripting host's status: `running`, `error`, `stopped` … */
  status: string
  /** Calls into the script's VM: message deliveries and timer or schedule runs. */
  callbacks: number
  /** Errors the script threw or that stopped it. */
  errors: number
  /** ms_publish calls that reached the broker. */
  publishes: number
}

export interface MonitoredBridge {
  name: string
  /** Connected to its remote broker. */
  connected: boolean
}

export interface MonitorSources {
  scripts?: (() => readonly MonitoredScript[]) | undefined
  bridges?: (() => readonly MonitoredBridge[]) | undefined
}
