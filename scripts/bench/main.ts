/**
 * `npm run bench -- [suite] [options]`: the one entry of every benchmark. The suite is
 * imported only once chosen, so one suite's set-up (V8 flags, a browser, workers) never
 * runs beside another's. A suite resolves with the exit code, 0 unless it measured a failure.
 */
import { type Choice, parseCommandLine } from './options.ts'

async function run(choice: Choice): Promise<number> {
  switch (choice.suite) {
    case 'broker':
      return (await import('./suites/broker.ts')).run(choice.options)
    case 'cluster':
      return (await import('./suites/cluster.ts')).run(choice.options)
    case 'codec':
      return (await import('./suites/codec.ts')).run()
    case 'last-values':
      return (await import('./suites/last-values.ts')).run()
    case 'module-reload':
      return (await import('./suites/module-reload.ts')).run(choice.options)
    case 'ops':
      return (await import('./suites/ops.ts')).run(choice.options)
    case 'scripting':
      return (await import('./suites/scripting.ts')).run(choice.options)
    case 'store':
      return (await import('./suites/store.ts')).run(choice.options)
    case 'web':
      return (await import('./suites/web.ts')).run(choice.options)
    case 'web-page':
      return (await import('./suites/web-page.ts')).run(choice.options)
  }
}

run(parseCommandLine(process.argv.slice(2))).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err)
    process.exit(1)
  },
)
