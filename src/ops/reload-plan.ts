import type { ScriptingOptions } from '../scripting/index.ts'
import type { StartOptions } from '../start-options.ts'

/** The settings a broker runs with, as startBroker takes them (less a store object of the embedder's). */
export type RunningSettings = Omit<StartOptions, 'store'>

/** Limits the broker reads per connection (or session), so new ones get a changed value. */
export const liveLimits = [
  'maxPacketSize',
  'maxInflight',
  'maxQueuedMessages',
  'connectTimeout',
  'maxKeepalive',
  'receiveMaximum',
] as const satisfies readonly (keyof RunningSettings)[]

/**
 * Settings read once at start: the listeners and their ports, the dashboard, the data
 * directory, which access files are used (their contents reload), the last-value cache's size
 * and the flow control's stall timeout.
 */
export const restartOnly = [
  'port',
  'host',
  'listeners',
  'http',
  'httpUser',
  'httpPass',
  'httpAllowedHosts',
  'data',
  'memory',
  'passwordFile',
  'aclFile',
  'lastValues',
  'stallTimeout',
  'topicAliasMaximum',
  'maxConnections',
  'sysInterval',
  'metricsPort',
  'cluster',
] as const satisfies readonly (keyof RunningSettings)[]

/** Settings whose values a log line must not show. */
const secret = new Set<string>(['pass', 'httpPass'])

/** Whether a setting's value differs (deeply: lists of listeners, bridges …). */
export function differs<K extends keyof RunningSettings>(
  key: K,
  running: RunningSettings,
  next: RunningSettings,
): boolean {
  return JSON.stringify(running[key]) !== JSON.stringify(next[key])
}

/** The restart-only settings that differ, with their values where a log may show them. */
export function pendingRestart(
  running: RunningSettings,
  next: RunningSettings,
): { setting: string; running?: unknown; configured?: unknown }[] {
  return restartOnly
    .filter((key) => differs(key, running, next))
    .map((key) =>
      secret.has(key) ? { setting: key } : { setting: key, running: running[key], configured: next[key] },
    )
}

/** The scripting options of `scripts` (a path alone is `{ path }`). */
export function scriptingOf(scripts: RunningSettings['scripts']): ScriptingOptions | undefined {
  return typeof scripts === 'string' ? { path: scripts } : scripts
}

/**
 * The settings in force after a reload: the new values of what was applied, the old values of
 * what waits for a restart (so the next reload reports it again).
 */
export function inForce(running: RunningSettings, next: RunningSettings): RunningSettings {
  const settings: RunningSettings = { ...next }
  for (const key of restartOnly) Object.assign(settings, { [key]: running[key] })
  return settings
}
