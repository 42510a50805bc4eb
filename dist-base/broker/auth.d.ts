/** CONNACK return codes for authentication (MQTT 3.1.1 §3.2.2.3). */
export declare const ConnackCode: {
    readonly accepted: 0;
    readonly unacceptableProtocolVersion: 1;
    readonly identifierRejected: 2;
    readonly serverUnavailable: 3;
    readonly badUserNameOrPassword: 4;
    readonly notAuthorized: 5;
};
export interface Credentials {
    clientId: string;
    username?: string | undefined;
    password?: Buffer | undefined;
    address: string;
}
export type AuthResult = typeof ConnackCode.accepted | typeof ConnackCode.badUserNameOrPassword | typeof ConnackCode.notAuthorized;
/**
 * The single user of OpenBeken's MQTTServer (ms_user / ms_pass). When no user is set the
 * broker is open to anonymous clients; once one is set every client must present it.
 */
export declare class SingleUserAuth {
    private user;
    private pass;
    constructor(user?: string, pass?: string);
    set(user: string | undefined, pass: string | undefined): void;
    get username(): string | undefined;
    /** The single user's password, so a script's ms_user can change the user and keep it. */
    get password(): string | undefined;
    check(credentials: Credentials): AuthResult;
}
