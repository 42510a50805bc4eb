/** Called once per complete packet; `body` is a view that is only valid until the next read. */
export type PacketSink = (header: number, body: Buffer) => void;
/**
 * The per-connection receive buffer: turns a byte stream cut anywhere (one byte per write)
 * or glued together (several packets per segment, as Tasmota's PubSubClient sends) into
 * whole packets. Sizes are checked as soon as the fixed header is known, so an oversize
 * packet is refused before its body is buffered.
 */
export declare class Framer {
    private readonly maxPacketSize;
    private readonly sink;
    private chunks;
    private buffered;
    /** Bytes needed before parsing can progress; 0 = unknown yet (header incomplete). */
    private needed;
    private stopped;
    /** Set while the connection is held back (flow control): packets wait here, unparsed. */
    private paused;
    /** Where the body of the packet `header` last read starts. */
    private bodyStart;
    constructor(maxPacketSize: number, sink: PacketSink);
    /** Stop delivering packets (the connection is closing); later data is ignored. */
    stop(): void;
    /**
     * Stops handing out packets after the current one; the rest of the read, and whatever
     * arrives meanwhile, waits until resume(). So one read carrying hundreds of PUBLISHes
     * is held at a packet boundary, not after all of them were routed.
     */
    pause(): void;
    /** Hands out what waited (may throw ProtocolError, like push); it may pause again. */
    resume(): void;
    /** Throws ProtocolError on a framing violation; the caller closes the connection. */
    push(chunk: Buffer): void;
    private parse;
    /**
     * Checks the fixed header at `pos` and returns the packet's whole size (and sets
     * `bodyStart`), or 0 when the header is not complete yet.
     */
    private header;
    private keep;
}
