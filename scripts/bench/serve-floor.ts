/**
 * The floor under a Node broker's connection handling: a Node server that does nothing but
 * answer CONNECT, SUBSCRIBE and PINGREQ (fake-broker.ts). Run with tinymqtt's V8 flags, it
 * shows what Node's own per-socket work costs in the connection scenarios (storm, memory), so
 * the part of tinymqtt's figure that is tinymqtt's shows beside it. It routes nothing: the
 * throughput scenarios skip it.
 */
import { serveFakeBroker } from './fake-broker.ts'

serveFakeBroker('floor')
