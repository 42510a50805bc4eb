const keepaliveRefreshMs = 1000;
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
export class FlowControl {
    stallTimeoutMs;
    logger;
    /** Congested sessions with publishers waiting for them, checked for stalls by one timer. */
    watched = new Map();
    timer;
    /** Released publishers, resumed together outside whatever released them. */
    resuming = new Set();
    resumeScheduled = false;
    constructor(stallTimeoutMs, logger) {
        this.stallTimeoutMs = stallTimeoutMs;
        this.logger = logger;
        this.enabled = stallTimeoutMs > 0;
    }
    /** stallTimeout 0 turns flow control off. */
    enabled;
    /** How many publishing connections are held back right now (for tests and stats). */
    get heldPublishers() {
        const held = new Set();
        for (const session of this.watched.keys())
            for (const source of session.waiters ?? [])
                held.add(source);
        return held.size;
    }
    /** `source` just queued a message for `session` above its high-water mark. */
    hold(source, session) {
        source.waitingOn ??= new Set();
        if (source.waitingOn.has(session))
            return;
        source.waitingOn.add(session);
        session.waiters ??= new Set();
        session.waiters.add(source);
        session.flow = this;
        this.resuming.delete(source);
        if (source.waitingOn.size === 1)
            source.pause();
        if (!this.watched.has(session)) {
            this.watched.set(session, { since: Date.now() });
            this.startTimer();
        }
    }
    /** The session's queue is down to its low-water mark (called by the session). */
    relieved(session) {
        this.release(session);
    }
    /** The session's client went: an offline session never holds publishers back. */
    offline(session) {
        this.release(session);
    }
    /** A publishing connection closed: it waits for nobody any more. */
    forget(source) {
        this.resuming.delete(source);
        const sessions = source.waitingOn;
        if (sessions === undefined)
            return;
        source.waitingOn = undefined;
        for (const session of sessions) {
            session.waiters?.delete(source);
            if (session.waiters?.size === 0)
                this.unwatch(session);
        }
    }
    /** Stops the stall check (broker shutdown); connections are closed separately. */
    close() {
        clearTimeout(this.timer);
        this.timer = undefined;
        this.watched.clear();
    }
    release(session) {
        const waiters = session.waiters;
        this.unwatch(session);
        if (waiters === undefined)
            return;
        for (const source of waiters) {
            source.waitingOn?.delete(session);
            if (source.waitingOn?.size === 0)
                this.resuming.add(source);
        }
        if (this.resuming.size > 0 && !this.resumeScheduled) {
            this.resumeScheduled = true;
            // Not from inside the acknowledgement (or routing) that released them: resuming parses
            // the packets that waited, which routes them.
            setImmediate(this.resumeReleased);
        }
    }
    resumeReleased = () => {
        this.resumeScheduled = false;
        const sources = [...this.resuming];
        this.resuming.clear();
        for (const source of sources) {
            if (source.waitingOn === undefined || source.waitingOn.size === 0)
                source.resume();
        }
    };
    unwatch(session) {
        session.waiters = undefined;
        session.flow = undefined;
        this.watched.delete(session);
        if (this.watched.size === 0 && this.timer !== undefined) {
            clearTimeout(this.timer);
            this.timer = undefined;
        }
    }
    startTimer() {
        if (this.timer === undefined)
            this.arm(this.stallTimeoutMs);
    }
    arm(delayMs) {
        // At least once a second, to keep the held publishers' keepalive bookkeeping fresh.
        this.timer = setTimeout(this.checkStalls, Math.max(1, Math.min(delayMs, keepaliveRefreshMs)));
        this.timer.unref();
    }
    /** Stalls every watched session whose last acknowledgement (or congestion) is stallTimeout old. */
    checkStalls = () => {
        this.timer = undefined;
        const now = Date.now();
        let next = Number.POSITIVE_INFINITY;
        for (const [session, watch] of this.watched) {
            const since = Math.max(watch.since, session.lastAckAt);
            const deadline = since + this.stallTimeoutMs;
            if (deadline <= now) {
                this.stall(session, now - since);
                continue;
            }
            if (deadline < next)
                next = deadline;
            for (const source of session.waiters ?? [])
                source.lastActivity = now;
        }
        if (this.watched.size > 0)
            this.arm(next - now);
    };
    stall(session, idleMs) {
        session.stalled = true;
        session.acksAtStall = session.acks;
        this.logger.warn({
            clientId: session.clientId,
            queued: session.queued,
            publishersReleased: session.waiters?.size ?? 0,
            stallTimeout: this.stallTimeoutMs / 1000,
        }, `subscriber ${session.clientId} acknowledged nothing for ${(idleMs / 1000).toFixed(1)} s: ` +
            'publishers no longer wait for it; messages beyond its queue limit are dropped');
        this.release(session);
    }
}
//# sourceMappingURL=flow.js.map