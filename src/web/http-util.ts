import type { IncomingMessage, ServerResponse } from 'node:http'

/** The largest JSON body an action takes (a script's source included). */
export const MAX_BODY = 1 << 20
export const HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'self'; connect-src 'self'; img-src 'self' data:",
  'cache-control': 'no-cache',
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Extra fields for the JSON answer (a 409's current version, say). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message)
  }
}

/**
 * A browser sends Basic credentials with any request to this origin, so a state-changing request
 * must prove it comes from our own page: a same-origin Origin header (or none, for non-browser
 * tools) and a JSON body, which a cross-site form cannot send without a CORS preflight.
 */
export function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin
  if (origin === undefined) return true
  try {
    return new URL(origin).host === req.headers.host
  } catch {
    return false
  }
}

export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
    throw new HttpError(415, 'expected application/json')
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY) throw new HttpError(413, 'body too large')
    chunks.push(chunk as Buffer)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new HttpError(400, 'invalid JSON')
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new HttpError(400, 'expected a JSON object')
  }
  return parsed as Record<string, unknown>
}

export function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { ...HEADERS, 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}
