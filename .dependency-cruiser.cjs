/**
 * Import rules for src/ (`npm run check:deps`, part of `npm test`). Type-only imports count: a
 * layer that names another's types still depends on it, and a cycle through types still couples
 * the modules. The rules below say for each folder what it must not import; the folder's
 * index.ts (or main module, or README.md) says the same in its opening comment.
 *
 * The folders, inside out: src/util (leaf helpers); src/broker (with handlers/, protocol/ and
 * access/) beside src/store, each naming only the other's types-only modules (store/store.ts;
 * broker/types.ts and broker/subscription.ts); src/scripting, src/listeners, src/bridge and
 * src/cluster, built on the broker's API; src/testing, the script test harness over scripting;
 * src/ops, running it as a service (health check, reload on SIGHUP, $SYS topics, Prometheus
 * metrics) over all of those;
 * src/web, the dashboard; src/settings, the settings table the command line and the config file
 * read; and the entry points in src/ itself (index.ts, cli.ts, config.ts,
 * testing.ts, test-command.ts), which assemble them.
 * @type {import('dependency-cruiser').IConfiguration}
 */

/** The entry points: only src/*.ts itself imports them (log.ts is a shared helper, not one). */
const entryPoints = '^src/(cli|config|index|testing|test-command)\\.ts$'

/**
 * The broker's types-only modules: plain interfaces and type aliases, importing no runtime code
 * of ours. Anything may name these without depending on the broker's implementation.
 */
const brokerTypes = '^src/broker/(types|subscription)\\.ts$'

/**
 * What the broker offers to the code built on it: the Broker facade, its types, the topic rules,
 * the last-values table (scripts read it), the access rules' topic matcher, the subscription
 * tree (the cluster indexes every node's persistent sessions with it) and the MQTT reason codes
 * (an AuthResult is a CONNACK code; bridges read the codes their peers send).
 */
const brokerApi =
  '^src/broker/(broker|types|subscription|topic-rules|last-values|topics|level-tree|access/topic-match|protocol/reason-codes)\\.ts$'

module.exports = {
  forbidden: [
    {
      name: 'no-unresolvable',
      comment:
        'Every relative import must resolve to a file; otherwise the rules below would silently see no edge.',
      severity: 'error',
      from: { path: '^src/' },
      // A virtual module the editor's bundler supplies (scripts/build-editor.mjs).
      to: { couldNotResolve: true, pathNot: '^tinymqtt:globals$' },
    },
    {
      name: 'no-cycles',
      comment:
        'Modules in src/ form no import cycle, type-only imports included. Break one by moving the shared type to the module that owns it, or to a types-only module.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^src/', circular: true },
    },
    {
      name: 'no-entry-points-from-folders',
      comment:
        'The entry points (src/index.ts, cli.ts, config.ts, testing.ts, test-command.ts) assemble the folders; no folder imports them back.',
      severity: 'error',
      from: { path: '^src/[^/]+/' },
      to: { path: entryPoints },
    },
    {
      name: 'no-test-harness-in-production',
      comment: 'src/testing (the script test harness) is reached only through src/testing.ts.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(testing/|testing\\.ts$)' },
      to: { path: '^src/testing/' },
    },
    {
      name: 'settings-only-from-entry-points',
      comment:
        'The settings table (src/settings) feeds the command line and the config file: only the entry points import it.',
      severity: 'error',
      from: { path: '^src/', pathNot: [entryPoints, '^src/settings/'] },
      to: { path: '^src/settings/' },
    },
    {
      name: 'util-self-contained',
      comment: 'src/util holds leaf helpers: they import nothing else from src/.',
      severity: 'error',
      from: { path: '^src/util/' },
      to: { path: '^src/', pathNot: '^src/util/' },
    },
    {
      name: 'broker-not-to-outer-layers',
      comment:
        'The broker knows scripting, the dashboard, the extra listeners, bridges, the cluster and the monitoring only through the interfaces it offers them.',
      severity: 'error',
      from: { path: '^src/broker/' },
      to: { path: '^src/(scripting|web|listeners|bridge|cluster|ops|testing)/' },
    },
    {
      name: 'broker-not-to-store-implementations',
      comment:
        'The broker talks to persistence through the Store interface (src/store/store.ts, types only); the embedder picks the implementation.',
      severity: 'error',
      from: { path: '^src/broker/' },
      to: { path: '^src/store/', pathNot: '^src/store/store\\.ts$' },
    },
    {
      name: 'handlers-through-broker-core',
      comment:
        'Packet handlers reach the broker through BrokerCore (core.ts), not the Broker facade or the parts that implement BrokerCore.',
      severity: 'error',
      from: { path: '^src/broker/handlers/' },
      to: {
        path: '^src/broker/(broker|broker-options|parts|connections|session-lifecycle|router|local-delivery|access-gate|persistence)\\.ts$',
      },
    },
    {
      name: 'access-is-an-add-on',
      comment:
        'File-based access control (src/broker/access) is installed on a Broker by the embedder; the rest of the broker does not import it.',
      severity: 'error',
      from: { path: '^src/broker/', pathNot: '^src/broker/access/' },
      to: { path: '^src/broker/access/' },
    },
    {
      name: 'access-through-broker-api',
      comment:
        'Access control works through the Broker facade and its AccessControl hooks, not the parts of the broker.',
      severity: 'error',
      from: { path: '^src/broker/access/' },
      to: {
        path: '^src/broker/',
        pathNot: ['^src/broker/access/', brokerApi, '^src/broker/(auth|shared)\\.ts$'],
      },
    },
    {
      name: 'protocol-self-contained',
      comment:
        'The MQTT codec (src/broker/protocol) imports only itself and the broker types it decodes into.',
      severity: 'error',
      from: { path: '^src/broker/protocol/' },
      to: { path: '^src/', pathNot: ['^src/broker/protocol/', brokerTypes] },
    },
    {
      name: 'store-not-to-outer-layers',
      comment:
        'Persistence does not depend on scripting, the dashboard, the listeners, bridges or the cluster.',
      severity: 'error',
      from: { path: '^src/store/' },
      to: { path: '^src/(scripting|web|listeners|bridge|cluster|testing)/' },
    },
    {
      name: 'store-only-broker-types',
      comment:
        'The store names what it persists through the types-only modules of the broker, never its implementation (the broker imports store/store.ts).',
      severity: 'error',
      from: { path: '^src/store/' },
      to: { path: '^src/broker/', pathNot: brokerTypes },
    },
    {
      name: 'scripting-not-to-outer-layers',
      comment:
        'The scripting host is built on the broker alone: not on the dashboard (which shows it), the listeners, bridges, cluster or the store.',
      severity: 'error',
      from: { path: '^src/scripting/' },
      to: { path: '^src/(web|listeners|bridge|cluster|store|testing)/' },
    },
    {
      name: 'scripting-only-broker-api',
      comment:
        'Scripts reach the broker through ScriptBroker (host-interfaces.ts) and the API modules of the broker.',
      severity: 'error',
      from: { path: '^src/scripting/' },
      to: { path: '^src/broker/', pathNot: brokerApi },
    },
    {
      name: 'listeners-not-to-outer-layers',
      comment:
        'The extra listeners hand sockets to the broker; they know nothing of scripting, the dashboard, bridges, the cluster or stores.',
      severity: 'error',
      from: { path: '^src/listeners/' },
      to: { path: '^src/(scripting|web|bridge|cluster|store|testing)/' },
    },
    {
      name: 'bridge-cluster-not-to-outer-layers',
      comment:
        'Bridges and the cluster building blocks are broker add-ons: no scripting, dashboard, listeners or store.',
      severity: 'error',
      from: { path: '^src/(bridge|cluster)/' },
      to: { path: '^src/(scripting|web|listeners|store|testing)/' },
    },
    {
      name: 'bridge-not-to-cluster',
      comment: 'Bridges and the cluster are independent add-ons.',
      severity: 'error',
      from: { path: '^src/bridge/' },
      to: { path: '^src/cluster/' },
    },
    {
      name: 'cluster-not-to-bridge',
      comment: 'Bridges and the cluster are independent add-ons.',
      severity: 'error',
      from: { path: '^src/cluster/' },
      to: { path: '^src/bridge/' },
    },
    {
      name: 'bridge-cluster-only-broker-api',
      comment: 'Bridges and the cluster use the public API of the broker, not its internals.',
      severity: 'error',
      from: { path: '^src/(bridge|cluster)/' },
      to: { path: '^src/broker/', pathNot: brokerApi },
    },
    {
      name: 'web-only-public-apis',
      comment:
        'The dashboard is built on the public side of each folder: the API modules of the broker, src/scripting/index.ts, src/listeners/index.ts, src/ops/index.ts, src/cluster/index.ts.',
      severity: 'error',
      from: { path: '^src/web/' },
      to: {
        path: '^src/(broker|scripting|listeners|ops|cluster)/',
        pathNot: [brokerApi, '^src/(scripting|listeners|ops|cluster)/index\\.ts$'],
      },
    },
    {
      name: 'ops-not-imported-by-inner-layers',
      comment:
        'The health check and the reload report on the broker and its add-ons; none of those imports src/ops (only the entry points and the dashboard do).',
      severity: 'error',
      from: { path: '^src/(util|broker|store|scripting|listeners|bridge|cluster|testing)/' },
      to: { path: '^src/ops/' },
    },
    {
      name: 'ops-not-to-outer-layers',
      comment:
        'src/ops does not depend on the dashboard (which mounts its health check), the cluster or the test harness.',
      severity: 'error',
      from: { path: '^src/ops/' },
      to: { path: '^src/(web|cluster|testing)/' },
    },
    {
      name: 'ops-only-store-interface',
      comment:
        'The health check probes the store through the Store interface; the embedder picks the implementation.',
      severity: 'error',
      from: { path: '^src/ops/' },
      to: { path: '^src/store/', pathNot: '^src/store/store\\.ts$' },
    },
    {
      name: 'ops-only-broker-api',
      comment:
        "src/ops uses the broker's public API, plus broker-options.ts (the limits a reload applies) and access/index.ts (the access files a reload re-reads).",
      severity: 'error',
      from: { path: '^src/ops/' },
      to: {
        path: '^src/broker/',
        pathNot: [brokerApi, '^src/broker/broker-options\\.ts$', '^src/broker/access/index\\.ts$'],
      },
    },
    {
      name: 'web-not-to-store-or-harness',
      comment:
        'The dashboard reads state through the broker, never from a store, and does not use the test harness.',
      severity: 'error',
      from: { path: '^src/web/' },
      to: { path: '^src/(store|testing)/' },
    },
    {
      name: 'testing-not-to-outer-layers',
      comment:
        'The script test harness runs a VM against a fake broker: no dashboard, listeners, bridges, cluster or stores.',
      severity: 'error',
      from: { path: '^src/testing/' },
      to: { path: '^src/(web|listeners|bridge|cluster|store)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // The browser assets are plain scripts served to the page, not part of the module graph.
    exclude: { path: '^src/web/assets/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
}
