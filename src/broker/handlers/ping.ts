import type { Connection } from '../connection.ts'
import { pingresp } from '../protocol/encode.ts'

export function handlePing(connection: Connection): void {
  connection.write(pingresp)
}
