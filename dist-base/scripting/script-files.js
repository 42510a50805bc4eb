import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
/**
 * Script files: `.js` / `.mjs`, not hidden (editor swap and backup files start with a dot or end
 * in `~`), and not starting with `_`: those are modules for scripts to import, never run alone
 * (as is every file in a subfolder, such as lib/).
 */
export function isScriptName(name) {
    return (!name.startsWith('.') &&
        !name.startsWith('_') &&
        !name.includes('/') &&
        (name.endsWith('.js') || name.endsWith('.mjs')));
}
export async function resolveScriptSource(path) {
    const full = resolve(path);
    const info = await stat(full);
    if (info.isDirectory())
        return { dir: full };
    return { dir: dirname(full), only: basename(full) };
}
export function belongsTo(source, name) {
    return source.only !== undefined ? name === source.only : isScriptName(name);
}
export async function listScripts(source) {
    const names = source.only !== undefined ? [source.only] : (await readdir(source.dir)).filter(isScriptName).sort();
    return names.map((name) => ({ name, file: join(source.dir, name) }));
}
//# sourceMappingURL=script-files.js.map