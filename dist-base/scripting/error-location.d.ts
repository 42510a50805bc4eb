import type { LimitKind, ScriptError } from './protocol.ts';
/** The raw parts QuickJS gives for a thrown value. */
export interface ThrownParts {
    name?: string | undefined;
    message: string;
    stack?: string | undefined;
    fileName?: string | undefined;
    lineNumber?: number | undefined;
    /** The limit QuickJS reported, when the thrown value is one of its limit errors. */
    limit?: LimitKind | undefined;
}
/**
 * Turns a QuickJS error into `file:line:column` plus message. The first frame that names
 * the script (or, per `isOwnFile`, one of the modules it imports) wins; syntax errors have
 * only that frame. Long stacks are cut so one bad script cannot flood the log.
 */
export declare function locateError(file: string, parts: ThrownParts, isOwnFile?: (name: string) => boolean): ScriptError;
export declare function formatScriptError(error: ScriptError): string;
