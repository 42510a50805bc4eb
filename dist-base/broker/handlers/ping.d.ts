import type { Connection } from '../connection.ts';
export declare function handlePing(connection: Connection): void;
