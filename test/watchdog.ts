// Loaded into every test file's process (`--import ./test/watchdog.ts` in `npm test`). The
// runner's --test-timeout ends a hung test but not a hung `after` hook, and one hook waiting
// for a server that never answers once kept a file's process alive for 80 minutes. A file
// still running after FILE_LIMIT_MS is a failure: it prints what keeps it alive and exits.
const FILE_LIMIT_MS = Number(process.env.TEST_FILE_LIMIT_MS ?? 12 * 60_000)

if (process.env.NODE_TEST_CONTEXT !== undefined) {
  const file = process.argv.find((a) => a.endsWith('.test.ts')) ?? 'a test file'
  setTimeout(() => {
    process.stderr.write(
      `watchdog: ${file} still running after ${FILE_LIMIT_MS} ms; active: ${JSON.stringify(process.getActiveResourcesInfo())}\n`,
    )
    process.exit(1)
  }, FILE_LIMIT_MS).unref()
}
