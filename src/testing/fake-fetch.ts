import { STATUS_CODES } from 'node:http'
import { type FetchOutcome, type FetchRequest, label, type PerformFetch } from '../scripting/fetch.ts'
import type { FakeClock } from './fake-clock.ts'

/** How a test answers an ms_fetch request. */
export interface FetchAnswer {
  /** Default 200. */
  status?: number
  /** Default the standard reason phrase of the status ('OK', 'Not Found' …). */
  statusText?: string
  /** Response headers; names are lower-cased as the script sees them. */
  headers?: Record<string, string>
  /** A string, bytes, or any other value sent as JSON (with content-type application/json). */
  body?: string | Uint8Array | object | number | boolean | null
}

export type FetchState = 'pending' | 'answered' | 'failed' | 'timed out' | 'aborted'

/** One ms_fetch request the script made. */
export interface FetchCall {
  url: string
  /** Upper case, as sent: 'GET', 'POST' … */
  method: string
  /** Request headers with lower-case names. */
  headers: Record<string, string>
  /** The body as UTF-8 text; undefined when the request had none. */
  body: string | undefined
  /** The body's bytes; undefined when the request had none. */
  bytes: Uint8Array | undefined
  /** The timeout the request runs under (its `timeoutMs`, or the fetchTimeoutMs limit). */
  timeoutMs: number
  /** `JSON.parse(body)`. */
  json(): unknown
  readonly state: FetchState
  /**
   * Answers the request; resolves once the script has handled the answer (its `then`
   * callbacks ran). Throws when the request is no longer pending.
   */
  respond(answer?: FetchAnswer): Promise<void>
  /** Fails the request as a network error would: the script's promise rejects with `message`. */
  fail(message?: string): Promise<void>
}

/** Answers a request: an answer (or a promise of one), or undefined to leave it pending. */
export type FetchHandler = (request: FetchCall) => FetchAnswer | undefined | Promise<FetchAnswer | undefined>

/**
 * The network of the harness: ms_fetch requests are recorded instead of sent, and answered by
 * the test (a handler, or `respond` on the recorded request). The request's timeout runs on the
 * fake clock, and the response size limit applies as with real requests.
 */
export class FakeFetches {
  readonly calls: FetchCall[] = []
  handler: FetchHandler | undefined
  /** Handler calls still running (an async handler): the harness waits for them when it settles. */
  readonly answering = new Set<Promise<unknown>>()

  constructor(
    private readonly clock: FakeClock,
    /** Waits until the script has handled what was answered. */
    private readonly settle: () => Promise<void>,
  ) {}

  readonly perform: PerformFetch = (request, controller, maxBytes) =>
    new Promise<FetchOutcome>((resolve) => {
      let state: FetchState = 'pending'
      const finish = (next: FetchState, outcome: FetchOutcome): void => {
        if (state !== 'pending') return
        state = next
        timer.cancel()
        resolve(outcome)
      }
      const timer = this.clock.setTimeout(
        () => finish('timed out', { error: `${label(request)}: timed out after ${request.timeoutMs} ms` }),
        request.timeoutMs,
      )
      controller.signal.addEventListener('abort', () => {
        if (state !== 'pending') return
        state = 'aborted'
        timer.cancel()
      })
      const settle = this.settle
      const bytes = bodyBytes(request)
      const text = bytes === undefined ? undefined : Buffer.from(bytes).toString('utf8')
      const call: FetchCall = {
        url: request.url,
        method: request.method,
        headers: { ...request.headers },
        body: text,
        bytes,
        timeoutMs: request.timeoutMs,
        json: () => JSON.parse(text ?? '') as unknown,
        get state() {
          return state
        },
        respond(answer = {}) {
          if (state !== 'pending') throw new Error(`${label(request)} is ${state}, it cannot be answered`)
          finish('answered', toOutcome(request, answer, maxBytes))
          return settle()
        },
        fail(message = 'connection refused') {
          if (state !== 'pending') throw new Error(`${label(request)} is ${state}, it cannot be failed`)
          finish('failed', { error: `${label(request)} failed: ${message}` })
          return settle()
        },
      }
      this.calls.push(call)
      // The handler is the test's code: it runs after the script's call, never inside it.
      if (this.handler) queueMicrotask(() => this.ask(call, finish, request, maxBytes))
    })

  private ask(
    call: FetchCall,
    finish: (state: FetchState, outcome: FetchOutcome) => void,
    request: FetchRequest,
    maxBytes: number,
  ): void {
    const handler = this.handler
    if (!handler || call.state !== 'pending') return
    const answered = Promise.resolve()
      .then(() => handler(call))
      .then(
        (answer) => {
          if (answer !== undefined && call.state === 'pending') {
            finish('answered', toOutcome(request, answer, maxBytes))
          }
        },
        (e: unknown) =>
          finish('failed', {
            error: `${label(request)} failed: ${e instanceof Error ? e.message : String(e)}`,
          }),
      )
      .finally(() => this.answering.delete(answered))
    this.answering.add(answered)
  }
}

function bodyBytes(request: FetchRequest): Uint8Array | undefined {
  const body = request.body
  if (body === undefined) return undefined
  return typeof body === 'string' ? new Uint8Array(Buffer.from(body, 'utf8')) : new Uint8Array(body)
}

function toOutcome(request: FetchRequest, answer: FetchAnswer, maxBytes: number): FetchOutcome {
  const status = answer.status ?? 200
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(answer.headers ?? {}))
    headers[name.toLowerCase()] = String(value)
  const body = answer.body
  let text: string
  if (body === undefined) text = ''
  else if (typeof body === 'string') text = body
  else if (body instanceof Uint8Array) text = Buffer.from(body).toString('utf8')
  else {
    text = JSON.stringify(body)
    headers['content-type'] ??= 'application/json'
  }
  if (Buffer.byteLength(text) > maxBytes) {
    return { error: `${label(request)}: response larger than ${maxBytes} bytes` }
  }
  return {
    response: { status, statusText: answer.statusText ?? STATUS_CODES[status] ?? '', headers, text },
  }
}
