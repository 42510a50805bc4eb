/**
 * Messages between the scripting host (main thread) and the VM worker.
 * Both directions are batched: one postMessage carries every message of one turn.
 */
/** Int32 slots per message in a 'deliveries' batch. */
export const DELIVERY_STRIDE = 4;
/** Int32 slots per message in a 'pubs' batch. */
export const PUBLISH_STRIDE = 3;
/** Layout of the shared watchdog buffer (Float64Array). */
export const BUSY_SINCE = 0;
export const BUSY_VM = 1;
//# sourceMappingURL=protocol.js.map