/**
 * Topic names, topic filters and the subscription tree.
 *
 * The tree has one level per node (Mosquitto's subs.c): matching a topic walks the literal
 * child, then `+`, then `#` at each level, so the cost grows with the topic's depth, not
 * with the number of subscriptions.
 */
/** Why a PUBLISH topic is unusable, or undefined when it is fine. */
export function topicNameError(topic) {
    if (topic.length === 0)
        return 'empty topic name';
    for (let i = 0; i < topic.length; i++) {
        const c = topic.charCodeAt(i);
        if (c === 0x2b || c === 0x23)
            return 'wildcard in topic name [MQTT-3.3.2-2]';
        if (c === 0)
            return 'U+0000 in topic name [MQTT-1.5.3-2]';
    }
    return undefined;
}
/** `+` must fill a whole level, `#` must be the whole last level [MQTT-4.7.1-2, 4.7.1-3]. */
export function isValidFilter(filter) {
    if (filter.length === 0 || filter.includes('\u0000'))
        return false;
    const levels = filter.split('/');
    for (let i = 0; i < levels.length; i++) {
        const level = levels[i];
        if (level.includes('#') && (level !== '#' || i !== levels.length - 1))
            return false;
        if (level.includes('+') && level !== '+')
            return false;
    }
    return true;
}
function newNode(parent, key) {
    return { children: new Map(), subs: undefined, parent, key };
}
/** Subscribers S (sessions, internal handlers) keyed by filter, each with its options V. */
export class SubscriptionTree {
    root = newNode(undefined, '');
    count = 0;
    get size() {
        return this.count;
    }
    /** Adds or replaces; returns true when the subscriber had no subscription on this filter. */
    add(filter, subscriber, value) {
        let node = this.root;
        for (const level of filter.split('/')) {
            let child = node.children.get(level);
            if (!child) {
                child = newNode(node, level);
                node.children.set(level, child);
            }
            node = child;
        }
        node.subs ??= new Map();
        const isNew = !node.subs.has(subscriber);
        node.subs.set(subscriber, value);
        if (isNew)
            this.count++;
        return isNew;
    }
    remove(filter, subscriber) {
        let node = this.root;
        for (const level of filter.split('/')) {
            node = node.children.get(level);
            if (!node)
                return false;
        }
        if (!node.subs?.delete(subscriber))
            return false;
        this.count--;
        if (node.subs.size === 0)
            node.subs = undefined;
        // Prune branches left empty, so churn of unique topics doesn't grow the tree forever.
        while (node.parent && !node.subs && node.children.size === 0) {
            node.parent.children.delete(node.key);
            node = node.parent;
        }
        return true;
    }
    /** Calls visit once per (subscriber, filter) that matches; a subscriber may be visited more than once. */
    match(topic, visit) {
        const levels = topic.split('/');
        // Topics starting with `$` are not matched by a leading wildcard [MQTT-4.7.2-1].
        this.walk(this.root, levels, 0, topic.charCodeAt(0) === 0x24, visit);
    }
    walk(node, levels, depth, dollar, visit) {
        const wildcardsAllowed = depth > 0 || !dollar;
        const hash = wildcardsAllowed ? node.children.get('#') : undefined;
        if (hash?.subs)
            visitAll(hash.subs, visit);
        if (depth === levels.length) {
            if (node.subs)
                visitAll(node.subs, visit);
            return;
        }
        if (wildcardsAllowed) {
            const plus = node.children.get('+');
            if (plus)
                this.walk(plus, levels, depth + 1, dollar, visit);
        }
        const literal = node.children.get(levels[depth]);
        if (literal)
            this.walk(literal, levels, depth + 1, dollar, visit);
    }
}
function visitAll(subs, visit) {
    for (const [subscriber, value] of subs)
        visit(subscriber, value);
}
//# sourceMappingURL=topics.js.map