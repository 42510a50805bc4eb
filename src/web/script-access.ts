import { timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { isIP } from 'node:net'

/**
 * Who may change scripts from the dashboard. Writing a script runs code on the broker's machine,
 * so the dashboard allows it only behind its own user and password, or when it listens on a
 * loopback address (only this machine can reach it). The broker's MQTT users do not count: a
 * password file often holds the credentials of every device on the network.
 */
export interface DashboardAccess {
  /** The dashboard's own user (`--http-user`); with `pass`, every request must carry them. */
  user?: string | undefined
  pass?: string | undefined
  /** The address the dashboard is bound to. */
  bindHost: string
  /** Host names (without port) that may be used to reach a loopback dashboard besides localhost. */
  allowedHosts?: readonly string[] | undefined
}

/** Whether the dashboard has a user and password of its own. */
export function hasOwnPassword(access: DashboardAccess): boolean {
  return (access.user ?? '') !== '' && (access.pass ?? '') !== ''
}

export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
  const lower = bare.toLowerCase()
  if (lower === 'localhost' || lower.endsWith('.localhost')) return true
  if (isIP(lower) === 4) return lower.startsWith('127.')
  if (isIP(lower) === 6) return lower === '::1' || /^::ffff:127\./.test(lower)
  return false
}

/**
 * A loopback dashboard without a password trusts whoever reaches it, and a web page elsewhere can
 * reach it through DNS rebinding (its own name pointed at 127.0.0.1). Such a request carries that
 * foreign name in its Host header, so only loopback addresses, `localhost` and the allowed
 * hosts get through (as Vite's dev server does). Otherwise every host is fine.
 */
export function hostAllowed(access: DashboardAccess, req: IncomingMessage): boolean {
  if (hasOwnPassword(access) || !isLoopbackHost(access.bindHost)) return true
  const header = req.headers.host
  if (header === undefined) return false
  const host = hostName(header)
  if (host === undefined) return false
  return isLoopbackHost(host) || (access.allowedHosts ?? []).some((h) => h.toLowerCase() === host)
}

/** The host name of a Host header, lower-cased, without the port; undefined when malformed. */
function hostName(header: string): string | undefined {
  try {
    return new URL(`http://${header}`).hostname.toLowerCase()
  } catch {
    return undefined
  }
}

/** Why scripts cannot be changed from this dashboard, or undefined when they can. */
export function scriptWritesRefusal(access: DashboardAccess): string | undefined {
  if (hasOwnPassword(access) || isLoopbackHost(access.bindHost)) return undefined
  return (
    `Scripts are read-only here: editing runs code on the broker's machine, so the dashboard ` +
    `allows it only with its own password (--http-user and --http-pass) or when it listens on a ` +
    `loopback address (--host 127.0.0.1); it listens on ${access.bindHost} without one.`
  )
}

/**
 * Whether this request may change scripts (or run code in them): the dashboard is set up for it
 * (see scriptWritesRefusal), the request reached it under an allowed Host and, with a password,
 * carries the dashboard's credentials.
 */
export function scriptWritesAllowed(access: DashboardAccess, req: IncomingMessage): boolean {
  if (scriptWritesRefusal(access) !== undefined || !hostAllowed(access, req)) return false
  return !hasOwnPassword(access) || checkOwnCredentials(access, req.headers.authorization)
}

/** Checks an Authorization header against the dashboard's own user and password. */
export function checkOwnCredentials(access: DashboardAccess, header: string | undefined): boolean {
  const given = basicCredentials(header)
  if (given === undefined) return false
  // Both compared every time, in constant time, so the answer's timing tells nothing.
  const userOk = sameSecret(given.user, access.user ?? '')
  const passOk = sameSecret(given.pass, access.pass ?? '')
  return userOk && passOk
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  if (a.length === b.length) return timingSafeEqual(a, b)
  // A length mismatch still costs a comparison, so the time taken does not tell the length.
  timingSafeEqual(b, b)
  return false
}

/** The user and password of a Basic Authorization header. */
export function basicCredentials(header: string | undefined): { user: string; pass: string } | undefined {
  if (header === undefined || !/^basic /i.test(header)) return undefined
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return undefined
  return { user: decoded.slice(0, colon), pass: decoded.slice(colon + 1) }
}

/** Who made a request, for the log line every script change leaves. */
export function requestActor(req: IncomingMessage): { user: string; address: string } {
  return {
    user: basicCredentials(req.headers.authorization)?.user || 'anonymous',
    address: req.socket.remoteAddress ?? 'unknown',
  }
}
