// The dashboard's page, script and stylesheet are plain files: the build copies them next to
// the compiled code (dist/web/assets), where src/web/server.ts looks for them.
import { cpSync } from 'node:fs'

cpSync(new URL('../src/web/assets', import.meta.url), new URL('../dist/web/assets', import.meta.url), {
  recursive: true,
})
