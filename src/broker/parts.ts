import type { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { Store } from '../store/store.ts'
import { AccessGate } from './access-gate.ts'
import type { SingleUserAuth } from './auth.ts'
import type { ResolvedOptions } from './broker-options.ts'
import { Connections } from './connections.ts'
import type { Counters } from './counters.ts'
import { notify } from './events.ts'
import { FlowControl } from './flow.ts'
import { LastValues } from './last-values.ts'
import { LocalDelivery } from './local-delivery.ts'
import { Persistence } from './persistence.ts'
import type { RetainedTree } from './retained.ts'
import { Router } from './router.ts'
import { SessionLifecycle } from './session-lifecycle.ts'
import type { AccessControl, BrokerEvents } from './types.ts'

/** The parts of one broker, wired to each other; the Broker facade drives them. */
export interface BrokerParts {
  readonly flow: FlowControl
  readonly gate: AccessGate
  /** Every change to durable state, and the acknowledgements that wait for it. */
  readonly persistence: Persistence
  readonly delivery: LocalDelivery
  readonly router: Router
  readonly sessions: SessionLifecycle
  readonly connections: Connections
}

export interface PartsInput {
  options: ResolvedOptions
  logger: Logger
  auth: SingleUserAuth
  access: AccessControl | undefined
  store: Store
  retained: RetainedTree
  totals: Counters
  /** The facade: its `message` listeners are called while routing, its events emitted. */
  events: EventEmitter<BrokerEvents>
}

/**
 * Builds the parts. Each gets only the others it calls; the one loop (a session's queue
 * overflowing drops its client's connection, a dropped connection ends its session) closes
 * through a callback resolved at run time.
 */
export function assembleParts(input: PartsInput): BrokerParts {
  const { options, logger, retained, totals, events } = input
  const flow = new FlowControl(options.stallTimeout * 1000, logger)
  const gate = new AccessGate(input.auth, input.access, totals)
  const persistence = new Persistence(input.store, logger, (seconds) => {
    if (events.listenerCount('storeCommit') > 0) notify(events, logger, 'storeCommit', seconds)
  })
  const delivery = new LocalDelivery(gate, flow, logger)
  const router = new Router({ retained, local: delivery, persistence, flow, totals, events, logger })
  if (options.lastValues) router.lastValues = new LastValues(options.lastValues)
  let connections: Connections | undefined
  const sessions = new SessionLifecycle({
    limits: options,
    router,
    persistence,
    flow,
    totals,
    logger,
    overflowed: (session) => connections?.overflowed(session),
  })
  connections = new Connections({
    settings: options,
    core: { logger, options, access: gate, acks: persistence, sessions, router },
    sessions,
    flow,
    totals,
    events,
    logger,
  })
  return { flow, gate, persistence, delivery, router, sessions, connections }
}
