import { isExpired } from "./expiry.js";
function newNode(parent, key) {
    return { children: new Map(), message: undefined, parent, key };
}
/**
 * Retained messages in a tree keyed by topic level (Mosquitto's retain.c), searched by
 * filter: a subscription to `a/+/c` visits only the `a` branch, not every retained topic.
 */
export class RetainedTree {
    root = newNode(undefined, '');
    count = 0;
    get size() {
        return this.count;
    }
    /** Stores the message, or deletes the topic's retained message when the payload is empty. */
    set(message) {
        if (message.payload.length === 0) {
            this.delete(message.topic);
            return;
        }
        let node = this.root;
        for (const level of message.topic.split('/')) {
            let child = node.children.get(level);
            if (!child) {
                child = newNode(node, level);
                node.children.set(level, child);
            }
            node = child;
        }
        if (!node.message)
            this.count++;
        node.message = message;
    }
    get(topic) {
        let node = this.root;
        for (const level of topic.split('/')) {
            node = node.children.get(level);
            if (!node)
                return undefined;
        }
        return node.message;
    }
    delete(topic) {
        let node = this.root;
        for (const level of topic.split('/')) {
            node = node.children.get(level);
            if (!node)
                return;
        }
        if (!node.message)
            return;
        node.message = undefined;
        this.count--;
        while (node.parent && !node.message && node.children.size === 0) {
            node.parent.children.delete(node.key);
            node = node.parent;
        }
    }
    /**
     * Every retained message whose topic matches the filter. Expired ones are left out
     * (expiry is checked on read, as in Mosquitto's retain.c).
     */
    match(filter) {
        const out = [];
        this.walk(this.root, filter.split('/'), 0, out);
        const now = Date.now();
        return out.filter((m) => !isExpired(m, now));
    }
    /** Every retained message, in tree order. */
    all() {
        const out = [];
        collect(this.root, out, false);
        return out;
    }
    walk(node, levels, depth, out) {
        if (depth === levels.length) {
            if (node.message)
                out.push(node.message);
            return;
        }
        const level = levels[depth];
        // A leading wildcard never matches a `$` topic [MQTT-4.7.2-1].
        const skipDollar = depth === 0;
        if (level === '#') {
            // `a/#` matches `a` itself as well as everything below it.
            if (node.message && depth > 0)
                out.push(node.message);
            collect(node, out, skipDollar);
            return;
        }
        if (level === '+') {
            for (const [key, child] of node.children) {
                if (skipDollar && key.startsWith('$'))
                    continue;
                this.walk(child, levels, depth + 1, out);
            }
            return;
        }
        const child = node.children.get(level);
        if (child)
            this.walk(child, levels, depth + 1, out);
    }
}
function collect(node, out, skipDollar) {
    for (const [key, child] of node.children) {
        if (skipDollar && key.startsWith('$'))
            continue;
        if (child.message)
            out.push(child.message);
        collect(child, out, false);
    }
}
//# sourceMappingURL=retained.js.map