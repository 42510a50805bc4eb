/**
 * The import rules of scripts, shared by the host (which reads a script's modules before a load)
 * and the VM (whose module loader enforces them): a script may import only relative `.js` /
 * `.mjs` files inside its scripts folder. Module names are paths relative to that folder with
 * `/` separators (`lib/util.js`), which is also how errors and stack traces name them.
 */
import { posix } from 'node:path';
/**
 * `import … from '…'`, `export … from '…'`, `import '…'` and `import('…')` with a string literal.
 * Not a parser: it also finds such text inside comments and strings. That only costs a read
 * of a file that is then never imported; QuickJS itself decides what is imported, so a
 * match too many never becomes an error.
 */
const IMPORT = /(?:\bfrom\s*|\bimport\s*(?:\(\s*)?)(['"])([^'"\r\n]+)\1/g;
export function scanImports(code) {
    const sites = [];
    for (const m of code.matchAll(IMPORT)) {
        sites.push({ specifier: m[2], index: m.index + m[0].length - m[2].length - 2 });
    }
    return sites;
}
/** Resolves `specifier` imported by the module `importer` (a folder-relative name). */
export function resolveImport(importer, specifier) {
    const quoted = `'${specifier}'`;
    if (specifier.startsWith('/') || specifier.startsWith('\\') || /^[a-zA-Z]:[\\/]/.test(specifier)) {
        return {
            problem: `cannot import ${quoted}: absolute paths are not allowed, use a path relative to the script ('./…')`,
        };
    }
    if (!specifier.startsWith('./') && !specifier.startsWith('../')) {
        return {
            problem: `cannot import ${quoted}: packages and built-in modules are not available to scripts; import a file of the scripts folder with a relative path ('./…')`,
        };
    }
    if (specifier.includes('\\')) {
        return { problem: `cannot import ${quoted}: use '/' in import paths` };
    }
    const name = posix.normalize(posix.join(posix.dirname(importer), specifier));
    if (name === '..' || name.startsWith('../')) {
        return { problem: `cannot import ${quoted}: it is outside the scripts folder` };
    }
    if (!name.endsWith('.js') && !name.endsWith('.mjs')) {
        return {
            problem: `cannot import ${quoted}: only .js and .mjs files can be imported, named with their extension`,
        };
    }
    return { name };
}
/** `file:line:column` (1-based, as QuickJS reports them) of `index` in `code`. */
export function locationOf(file, code, index) {
    let line = 1;
    let lineStart = 0;
    for (let i = code.indexOf('\n'); i !== -1 && i < index; i = code.indexOf('\n', i + 1)) {
        line++;
        lineStart = i + 1;
    }
    return `${file}:${line}:${index - lineStart + 1}`;
}
//# sourceMappingURL=import-specifiers.js.map