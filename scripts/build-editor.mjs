// Bundles the dashboard's script editor (CodeMirror 6, src/web/editor/) into
// src/web/assets/editor.js, which the build then copies to dist/web/assets with the other assets
// and which the dashboard serves when run from source (tests). Nothing is fetched at run time.
// The completion list of the script globals is made here from examples/tinymqtt.d.ts with the
// TypeScript compiler API, so it cannot drift from the declarations editors use.
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import ts from 'typescript'

const root = new URL('../', import.meta.url)
const DECLARATIONS = new URL('examples/tinymqtt.d.ts', root)
const ENTRY = new URL('src/web/editor/editor.js', root)
export const OUTFILE = new URL('src/web/assets/editor.js', root)

/** The globals a script sees: name, kind, signature and doc comment, in declaration order. */
export function scriptGlobals(path = DECLARATIONS) {
  const text = readFileSync(path, 'utf8')
  const file = ts.createSourceFile('tinymqtt.d.ts', text, ts.ScriptTarget.Latest, true)
  const printer = ts.createPrinter({ removeComments: true })
  const byName = new Map()
  const add = (name, kind, signature, node) => {
    const doc = docOf(node)
    const known = byName.get(name)
    if (known) {
      // Overloads: one entry, every signature.
      known.signature += `\n${signature}`
      if (!known.doc) known.doc = doc
      return
    }
    byName.set(name, { name, kind, signature, doc })
  }
  for (const statement of file.statements) {
    if (ts.isFunctionDeclaration(statement) && statement.name) {
      const signature = printer
        .printNode(ts.EmitHint.Unspecified, statement, file)
        .replace(/^declare /, '')
        .replace(/;$/, '')
      add(statement.name.text, 'function', signature, statement)
    } else if (ts.isVariableStatement(statement)) {
      for (const declaration of statement.declarationList.declarations) {
        if (!ts.isIdentifier(declaration.name)) continue
        const type = declaration.type
          ? printer.printNode(ts.EmitHint.Unspecified, declaration.type, file)
          : 'any'
        add(declaration.name.text, 'variable', `const ${declaration.name.text}: ${type}`, statement)
      }
    }
  }
  return [...byName.values()]
}

function docOf(node) {
  const parts = []
  for (const doc of ts.getJSDocCommentsAndTags(node)) {
    if (!ts.isJSDoc(doc)) continue
    const comment = ts.getTextOfJSDocComment(doc.comment)
    if (comment) parts.push(comment)
    for (const tag of doc.tags ?? []) {
      const tagText = ts.getTextOfJSDocComment(tag.comment)
      parts.push(`@${tag.tagName.text}${tagText ? ` ${tagText}` : ''}`)
    }
  }
  return parts.join('\n')
}

/** Builds the bundle; written to a temporary file first, so a reader never sees half of it. */
export async function buildEditor({ outfile = OUTFILE } = {}) {
  const globals = scriptGlobals()
  const result = await build({
    entryPoints: [fileURLToPath(ENTRY)],
    bundle: true,
    format: 'esm',
    minify: true,
    target: 'es2022',
    write: false,
    legalComments: 'none',
    plugins: [
      {
        name: 'script-globals',
        setup(b) {
          b.onResolve({ filter: /^tinymqtt:globals$/ }, () => ({
            path: 'globals',
            namespace: 'script-globals',
          }))
          b.onLoad({ filter: /.*/, namespace: 'script-globals' }, () => ({
            contents: JSON.stringify(globals),
            loader: 'json',
          }))
        },
      },
    ],
  })
  const out = fileURLToPath(outfile)
  const temp = `${out}.${process.pid}.tmp`
  writeFileSync(temp, result.outputFiles[0].contents)
  renameSync(temp, out)
  return { bytes: result.outputFiles[0].contents.length, globals: globals.length }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { bytes, globals } = await buildEditor()
  process.stdout.write(`editor.js: ${(bytes / 1024).toFixed(0)} KiB, ${globals} script globals\n`)
}
