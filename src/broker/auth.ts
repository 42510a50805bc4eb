import { timingSafeEqual } from 'node:crypto'
import { ConnackCode } from './protocol/reason-codes.ts'
import type { AuthResult, Credentials } from './types.ts'

/**
 * The single user of OpenBeken's MQTTServer (ms_user / ms_pass). When no user is set the
 * broker is open to anonymous clients; once one is set every client must present it.
 */
export class SingleUserAuth {
  private user: string | undefined
  private pass: Buffer | undefined

  constructor(user?: string, pass?: string) {
    this.set(user, pass)
  }

  set(user: string | undefined, pass: string | undefined): void {
    this.user = user === '' ? undefined : user
    this.pass = pass === undefined ? undefined : Buffer.from(pass)
  }

  get username(): string | undefined {
    return this.user
  }

  /** The single user's password, so a script's ms_user can change the user and keep it. */
  get password(): string | undefined {
    return this.pass?.toString()
  }

  check(credentials: Credentials): AuthResult {
    if (this.user === undefined) return ConnackCode.accepted
    if (credentials.username === undefined) return ConnackCode.notAuthorized
    if (credentials.username !== this.user) return ConnackCode.badUserNameOrPassword
    const expected = this.pass ?? Buffer.alloc(0)
    const given = credentials.password ?? Buffer.alloc(0)
    return expected.length === given.length && timingSafeEqual(expected, given)
      ? ConnackCode.accepted
      : ConnackCode.badUserNameOrPassword
  }
}
