import type { Broker } from '../broker/broker.ts';
import type { DiscoveryIndex } from './homeassistant.ts';
import type { TopicModel } from './topic-model.ts';
/**
 * Decides what the dashboard records. Recording every message (a call on the broker's
 * `message` event, a Map lookup and a payload copy) is what the Topics tree needs, so it is
 * done only while a page shows the Topics view, or shortly after (a reload, an HTTP read of
 * the topics view): a Broker or Clients tab left open all day costs nothing.
 *
 * And it is done for at most `budget` messages a second. Above that, the tree samples: each
 * tick interval, the `message` listener is attached for one window of consecutive messages
 * (budget × interval of them) at a random moment, and each message recorded counts for the
 * rate over the budget. Outside the window the broker has no listener to call: a broker
 * routing a million messages a second spends about 5% more CPU with a page on the Topics view
 * (scripts/bench-web.ts). Values may then lag and counts are estimates; the view says so.
 *
 * Whatever the rate and whether or not a page is open, the dashboard holds in-process
 * subscriptions to the few topics the Devices and Home Assistant views read, which record each
 * of their messages: the broker's subscription tree turns other topics away at their first
 * levels, so they cost nothing.
 */
export declare class Recorder {
    private readonly broker;
    private readonly model;
    private readonly discovery;
    /** How long recording goes on after the last page left the Topics view, or the last HTTP read. */
    private readonly lingerMs;
    /** Messages a second recorded at most; above it the Topics tree samples. */
    private readonly budget;
    /** True while every message is recorded (or sampled, above the budget). */
    private all;
    private allSince;
    private topicsViewers;
    /** Until when recording goes on with no page on the Topics view (ms since the epoch). */
    private until;
    private readonly unsubscribes;
    /** State and availability topics of discovered entities, each subscribed once. */
    private readonly entityTopics;
    /** The entity topics each discovery config holds. */
    private readonly configTopics;
    /** The broker's message count and performance.now() at the last measure of the rate. */
    private countedIn;
    private countedAt;
    /** While recording: the message rate last measured (per second). */
    private rate;
    /** How many messages each recorded one stands for: 1 while every message is recorded. */
    private weight;
    /** Messages the listener still records before it detaches (the window, or a burst's cap). */
    private left;
    private attached;
    private windowTimer;
    /** The last message the listener recorded, so a subscription handler does not count it twice. */
    private tapped;
    private readonly recordFiltered;
    /** The `message` listener while every topic is recorded; see the class comment. */
    private readonly tap;
    private readonly detachIfDone;
    private readonly openWindow;
    constructor(broker: Broker, model: TopicModel, discovery: DiscoveryIndex, 
    /** How long recording goes on after the last page left the Topics view, or the last HTTP read. */
    lingerMs: number, 
    /** Messages a second recorded at most; above it the Topics tree samples. */
    budget: number);
    /** When every message began to be recorded, or undefined while only the device and HA topics are. */
    get since(): number | undefined;
    get recording(): boolean;
    /** While the Topics tree samples: about one message in `oneIn` is recorded, at `rate` a second. */
    get sampling(): {
        oneIn: number;
        rate: number;
    } | undefined;
    /** A page now shows the Topics view. */
    topicsViewOpened(): void;
    /** A page left the Topics view or closed. */
    topicsViewClosed(): void;
    /** An HTTP read of a view that shows every topic: record for a while, as for a page. */
    read(): void;
    /**
     * On the dashboard's tick: stop once no page shows the Topics view and the linger is over;
     * otherwise measure the rate and plan the next interval's recording.
     */
    tick(now?: number): void;
    /** Records every message, or one window of them, over the next `interval` ms. */
    private plan;
    private cancelWindow;
    private attach;
    private detach;
    close(): void;
    private extend;
    private start;
    private stop;
    private configChanged;
    private hold;
    private release;
}
