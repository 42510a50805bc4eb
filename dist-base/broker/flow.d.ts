import type { Logger } from 'pino';
import type { Session } from './sessions.ts';
/**
 * A publishing connection that can be held back: it stops reading (TCP back-pressure) until
 * every congested subscriber it waits for has room again or stopped counting.
 */
export interface FlowSource {
    /** The congested sessions it waits for; undefined or empty while it reads freely. */
    waitingOn: Set<Session> | undefined;
    /** Keepalive bookkeeping: time held back is not the client's silence. */
    lastActivity: number;
    pause(): void;
    resume(): void;
}
/**
 * Flow control for QoS 1/2: instead of dropping what a connected, acknowledging subscriber
 * cannot take yet, the publishing connections that feed it stop reading while its queue is
 * above the high-water mark, and read again once it is down to the low-water mark.
 *
 * Pausing is per publishing connection and per subscriber: a connection waits only for the
 * sessions it fed past their mark, so unrelated publishers keep flowing. A subscriber that
 * acknowledges nothing for `stallTimeoutMs` counts as stalled: it no longer holds anyone
 * back, and what exceeds its maxQueuedMessages is dropped (logged and counted), as for an
 * offline session. Its next acknowledgement makes it count as progressing again.
 *
 * Publishes that have no connection to pause (broker.publish, scripts, wills) are never
 * held; they follow the queue limit as before.
 */
export declare class FlowControl {
    private readonly stallTimeoutMs;
    private readonly logger;
    /** Congested sessions with publishers waiting for them, checked for stalls by one timer. */
    private readonly watched;
    private timer;
    /** Released publishers, resumed together outside whatever released them. */
    private readonly resuming;
    private resumeScheduled;
    constructor(stallTimeoutMs: number, logger: Logger);
    /** stallTimeout 0 turns flow control off. */
    readonly enabled: boolean;
    /** How many publishing connections are held back right now (for tests and stats). */
    get heldPublishers(): number;
    /** `source` just queued a message for `session` above its high-water mark. */
    hold(source: FlowSource, session: Session): void;
    /** The session's queue is down to its low-water mark (called by the session). */
    relieved(session: Session): void;
    /** The session's client went: an offline session never holds publishers back. */
    offline(session: Session): void;
    /** A publishing connection closed: it waits for nobody any more. */
    forget(source: FlowSource): void;
    /** Stops the stall check (broker shutdown); connections are closed separately. */
    close(): void;
    private release;
    private readonly resumeReleased;
    private unwatch;
    private startTimer;
    private arm;
    /** Stalls every watched session whose last acknowledgement (or congestion) is stallTimeout old. */
    private readonly checkStalls;
    private stall;
}
