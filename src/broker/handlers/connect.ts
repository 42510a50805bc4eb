import { randomUUID } from 'node:crypto'
import { ConnackCode } from '../auth.ts'
import type { BrokerCore } from '../broker.ts'
import type { Connection } from '../connection.ts'
import { encodeConnack } from '../protocol/encode.ts'
import { ProtocolError, Reason } from '../protocol/errors.ts'
import type { ConnectPacket } from '../protocol/packets.ts'
import { topicNameError } from '../topics.ts'

export function handleConnect(broker: BrokerCore, connection: Connection, packet: ConnectPacket): void {
  connection.version = packet.protocolVersion
  const log = { clientId: packet.clientId, address: connection.address }
  if (packet.protocolVersion === 5) {
    // MQTT 5 is not spoken yet: answer in its own format so the client can fall back.
    refuse(broker, connection, 0x84, 'MQTT 5 is not supported yet')
    return
  }
  const clean = packet.clean !== false
  let clientId = packet.clientId
  if (clientId === '') {
    // [MQTT-3.1.3-7, 3.1.3-8]: an empty id only makes sense for a session nobody resumes.
    if (!clean) {
      refuse(broker, connection, ConnackCode.identifierRejected, 'empty client id without clean session', log)
      return
    }
    clientId = `tinymqtt-${randomUUID()}`
  }
  if (packet.will) {
    const problem = topicNameError(packet.will.topic)
    if (problem) throw new ProtocolError(`will topic: ${problem}`, Reason.topicNameInvalid)
  }
  const credentials = {
    clientId,
    username: packet.username,
    password: packet.password,
    address: connection.address,
  }
  const auth = broker.access?.authenticate
    ? broker.access.authenticate(credentials)
    : broker.auth.check(credentials)
  if (auth !== ConnackCode.accepted) {
    const why = auth === ConnackCode.notAuthorized ? 'no credentials' : 'bad user name or password'
    refuse(broker, connection, auth, `authentication failed: ${why}`, { ...log, username: packet.username })
    return
  }

  const previous = broker.clients.get(clientId)
  if (previous) broker.dropConnection(previous, 'taken over by a new connection')

  connection.clientId = clientId
  connection.username = packet.username
  connection.keepalive = packet.keepalive ?? 0
  connection.cleanSession = clean
  connection.will = packet.will
  const { session, present } = broker.openSession(clientId, clean)
  session.username = packet.username
  connection.session = session
  connection.state = 'connected'
  connection.connectedAt = new Date()
  broker.clients.set(clientId, connection)
  connection.write(encodeConnack(connection.version, present, ConnackCode.accepted))
  session.resume(connection)
  broker.logger.info(
    {
      clientId,
      address: connection.address,
      protocolVersion: connection.version,
      clean,
      sessionPresent: present,
    },
    'client connected',
  )
  broker.emit('clientConnect', connection.info)
}

function refuse(
  broker: BrokerCore,
  connection: Connection,
  code: number,
  reason: string,
  log: Record<string, unknown> = { address: connection.address },
): void {
  broker.logger.warn({ ...log, returnCode: code }, `connection refused: ${reason}`)
  connection.write(encodeConnack(connection.version, false, code))
  broker.dropConnection(connection, reason)
}
