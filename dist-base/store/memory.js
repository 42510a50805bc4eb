/**
 * Keeps state in this process only. A broker closed and started again on the same
 * MemoryStore instance (an embedder restarting it) finds its retained messages and
 * persistent sessions again; nothing survives the process.
 */
export class MemoryStore {
    durable = false;
    retained = new Map();
    sessions = new Map();
    scriptStates = new Map();
    async load() {
        const sessions = [...this.sessions.values()].map((s) => ({
            ...s.meta,
            messages: [...s.messages.values()].sort((a, b) => a.seq - b.seq),
            incomingQos2: [...s.incomingQos2],
        }));
        return { retained: [...this.retained.values()], sessions };
    }
    putRetained(message) {
        if (message.payload.length === 0)
            this.retained.delete(message.topic);
        else
            this.retained.set(message.topic, message);
    }
    putSession(meta) {
        const entry = this.sessions.get(meta.clientId);
        if (entry)
            entry.meta = meta;
        else
            this.sessions.set(meta.clientId, { meta, messages: new Map(), incomingQos2: new Set() });
    }
    deleteSession(clientId) {
        this.sessions.delete(clientId);
    }
    putMessage(clientId, message) {
        this.sessions.get(clientId)?.messages.set(message.seq, message);
    }
    deleteMessage(clientId, seq) {
        this.sessions.get(clientId)?.messages.delete(seq);
    }
    putIncomingQos2(clientId, messageId) {
        this.sessions.get(clientId)?.incomingQos2.add(messageId);
    }
    deleteIncomingQos2(clientId, messageId) {
        this.sessions.get(clientId)?.incomingQos2.delete(messageId);
    }
    async loadScriptStates() {
        return new Map(this.scriptStates);
    }
    putScriptState(name, json) {
        if (json === undefined)
            this.scriptStates.delete(name);
        else
            this.scriptStates.set(name, json);
    }
    async flush() { }
    async close() { }
}
//# sourceMappingURL=memory.js.map