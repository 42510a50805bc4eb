import { timingSafeEqual } from 'node:crypto';
/** CONNACK return codes for authentication (MQTT 3.1.1 §3.2.2.3). */
export const ConnackCode = {
    accepted: 0,
    unacceptableProtocolVersion: 1,
    identifierRejected: 2,
    serverUnavailable: 3,
    badUserNameOrPassword: 4,
    notAuthorized: 5,
};
/**
 * The single user of OpenBeken's MQTTServer (ms_user / ms_pass). When no user is set the
 * broker is open to anonymous clients; once one is set every client must present it.
 */
export class SingleUserAuth {
    user;
    pass;
    constructor(user, pass) {
        this.set(user, pass);
    }
    set(user, pass) {
        this.user = user === '' ? undefined : user;
        this.pass = pass === undefined ? undefined : Buffer.from(pass);
    }
    get username() {
        return this.user;
    }
    /** The single user's password, so a script's ms_user can change the user and keep it. */
    get password() {
        return this.pass?.toString();
    }
    check(credentials) {
        if (this.user === undefined)
            return ConnackCode.accepted;
        if (credentials.username === undefined)
            return ConnackCode.notAuthorized;
        if (credentials.username !== this.user)
            return ConnackCode.badUserNameOrPassword;
        const expected = this.pass ?? Buffer.alloc(0);
        const given = credentials.password ?? Buffer.alloc(0);
        return expected.length === given.length && timingSafeEqual(expected, given)
            ? ConnackCode.accepted
            : ConnackCode.badUserNameOrPassword;
    }
}
//# sourceMappingURL=auth.js.map