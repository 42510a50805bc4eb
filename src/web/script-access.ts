import type { Broker } from '../broker/broker.ts'

export interface ScriptWriteAccess {
  allowed: boolean
  /** Why not, for the page to show. */
  reason?: string | undefined
}

/** `localhost`, 127.0.0.0/8 and ::1 (also as IPv4-mapped addresses). */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  return h === 'localhost' || h === '::1' || /^(::ffff:)?127\.\d+\.\d+\.\d+$/.test(h)
}

/**
 * Whether the dashboard may change what scripts do (the console runs code inside them): only
 * when the dashboard asks for a user and password, or cannot be reached from another machine.
 * Checked per request, since ms_user/ms_pass can change the credentials at run time.
 */
export function scriptWritesAllowed(broker: Broker, bindHost: string): ScriptWriteAccess {
  const passwordFile = broker.access?.authenticate !== undefined
  const user = broker.auth.username !== undefined && (broker.auth.password ?? '') !== ''
  if (passwordFile || user || isLoopback(bindHost)) return { allowed: true }
  return {
    allowed: false,
    reason: `read-only: the dashboard listens on ${bindHost}, not a loopback address, and has no user and password (set --user and --pass, or bind it to 127.0.0.1)`,
  }
}

/** The user named in a Basic Authorization header; 'anonymous' without one. */
export function requestUser(header: string | undefined): string {
  if (header === undefined || !/^basic /i.test(header)) return 'anonymous'
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return colon > 0 ? decoded.slice(0, colon) : 'anonymous'
}
