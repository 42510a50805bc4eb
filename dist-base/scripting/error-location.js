const FRAME = /([^\s()]+):(\d+):(\d+)/;
const MAX_STACK_LINES = 6;
/**
 * Turns a QuickJS error into `file:line:column` plus message. The first frame that names
 * the script (or, per `isOwnFile`, one of the modules it imports) wins; syntax errors have
 * only that frame. Long stacks are cut so one bad script cannot flood the log.
 */
export function locateError(file, parts, isOwnFile = (name) => name === file) {
    const lines = (parts.stack ?? '').split('\n').filter((l) => l.trim() !== '');
    let where = file;
    for (const line of lines) {
        const m = FRAME.exec(line);
        if (m && isOwnFile(m[1])) {
            where = `${m[1]}:${m[2]}:${m[3]}`;
            break;
        }
    }
    if (where === file && parts.lineNumber !== undefined)
        where = `${file}:${parts.lineNumber}:1`;
    const message = parts.name && parts.name !== 'Error' ? `${parts.name}: ${parts.message}` : parts.message;
    const kept = lines.slice(0, MAX_STACK_LINES);
    if (lines.length > MAX_STACK_LINES)
        kept.push(`    … ${lines.length - MAX_STACK_LINES} more frames`);
    const stack = kept.length > 0 ? kept.join('\n') : undefined;
    return parts.limit === undefined ? { where, message, stack } : { where, message, stack, limit: parts.limit };
}
export function formatScriptError(error) {
    return `${error.where} ${error.message}`;
}
//# sourceMappingURL=error-location.js.map