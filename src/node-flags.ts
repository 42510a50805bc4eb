/**
 * The V8 flags the broker runs with: in `tinymqtt`'s shebang (src/cli.ts), in `npm start`, and
 * in the benchmark's broker processes. Embedders pass them to their own `node` (README,
 * Performance). test/node-flags.test.ts checks the three places agree.
 *
 * `--max-semi-space-size=8` (MB; V8's default on 64-bit is 16): a reconnect storm grows the
 * young generation to its maximum and an idle process never gives it back, which was most
 * of the RSS per idle client. Interleaved runs of `npm run bench -- --brokers tinymqtt
 * --scenarios storm,memory,fan-out,qos1 --quick --skip-self-check` (2026-12-06, shared 2-core
 * VM), default against 8 MB: RSS per client after the 8,000-client storm 6.0/5.7 → 4.0/4.3 kB,
 * idle clients at 8,000 5.4/5.1 → 3.9/2.6 kB, storm 6.2k/5.7k → 6.8k/6.8k clients/s, fan-out
 * 5.15M/3.88M → 5.06M/4.75M deliveries/s, QoS 1 218k/148k → 228k/224k msg/s. 2 MB and 4 MB
 * cut memory further but cost fan-out 45–60% (more scavenges of its in-flight messages).
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8']
