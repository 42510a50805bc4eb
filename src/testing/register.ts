/**
 * Given to `node --import` by `tinymqtt test`: makes `import … from 'tinymqtt/testing'` in a
 * test file load the harness of the tinymqtt that runs the tests, wherever the test file is (a
 * scripts folder without node_modules, one with its own tinymqtt installed, or this repository's
 * examples/). The resolve hook is a data: URL, so it needs no loader of its own for either the
 * built package (.js) or the sources (.ts, run under tsx). The hook hands the harness's URL on
 * to the next resolver rather than answering itself, so tsx still sees (and compiles) a .ts one.
 */
import { register } from 'node:module'

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js'
const target = new URL(`../testing${ext}`, import.meta.url).href
const hooks = `export async function resolve(specifier, context, next) {
  return next(specifier === 'tinymqtt/testing' ? ${JSON.stringify(target)} : specifier, context)
}`
register(`data:text/javascript,${encodeURIComponent(hooks)}`)
