import type { BrokerCore } from '../broker.ts'
import type { Connection } from '../connection.ts'

export function handleDisconnect(broker: BrokerCore, connection: Connection): void {
  // A clean DISCONNECT discards the will [MQTT-3.14.4-3].
  connection.disconnected = true
  connection.will = undefined
  broker.dropConnection(connection, 'client disconnected')
}
