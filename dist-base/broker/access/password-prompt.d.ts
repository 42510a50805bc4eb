import type { Readable, Writable } from 'node:stream';
type Input = Readable & {
    isTTY?: boolean;
    setRawMode?: (mode: boolean) => unknown;
};
/**
 * A password for `tinymqtt passwd`: typed without echo (asked twice, like mosquitto_passwd)
 * when the input is a terminal, otherwise the first line of the piped input.
 */
export declare function readPassword(input?: Input, output?: Writable): Promise<string>;
export {};
