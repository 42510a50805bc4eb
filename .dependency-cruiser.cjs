/**
 * Import rules for src/ (`npm run check:deps`). Type-only imports count: a layer that names
 * another's types still depends on it, and a cycle through types still couples the modules.
 * @type {import('dependency-cruiser').IConfiguration}
 */
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
      comment: 'Modules in src/ form no import cycle.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^src/', circular: true },
    },
    {
      name: 'broker-not-to-outer-layers',
      comment:
        'The broker core knows scripting, the dashboard and the extra listeners only through the interfaces it offers them.',
      severity: 'error',
      from: { path: '^src/broker/' },
      to: { path: '^src/(scripting|web|listeners)/' },
    },
    {
      name: 'broker-not-to-store-implementations',
      comment:
        'The broker talks to persistence through the Store interface (src/store/store.ts); the embedder picks the implementation.',
      severity: 'error',
      from: { path: '^src/broker/' },
      to: { path: '^src/store/', pathNot: '^src/store/store\\.ts$' },
    },
    {
      name: 'store-not-to-outer-layers',
      comment: 'Persistence does not depend on scripting, the dashboard or the extra listeners.',
      severity: 'error',
      from: { path: '^src/store/' },
      to: { path: '^src/(scripting|web|listeners)/' },
    },
    {
      name: 'util-self-contained',
      comment: 'src/util/ holds leaf helpers: they import nothing else from src/.',
      severity: 'error',
      from: { path: '^src/util/' },
      to: { path: '^src/', pathNot: '^src/util/' },
    },
    {
      name: 'handlers-not-to-broker',
      comment: 'Packet handlers get what they need through a narrow interface, not the Broker class.',
      severity: 'error',
      from: { path: '^src/broker/handlers/' },
      to: { path: '^src/broker/broker\\.ts$' },
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
