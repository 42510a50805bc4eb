import { randomUUID } from 'node:crypto'
import type { Connection } from '../connection.ts'
import type { BrokerCore } from '../core.ts'
import { type ConnackProperties, encodeConnack } from '../protocol/encode.ts'
import { ProtocolError } from '../protocol/errors.ts'
import type { ConnectPacket } from '../protocol/packets.ts'
import { ConnackCode, isFailure, Reason } from '../protocol/reason-codes.ts'
import { neverExpires } from '../sessions.ts'
import { topicNameError } from '../topic-rules.ts'

/** MQTT 5 CONNACK reason codes for the 3.1.1 return codes 1–5 [MQTT-3.2.2.2]. */
const v5Codes: Record<number, number> = {
  [ConnackCode.unacceptableProtocolVersion]: Reason.unsupportedProtocolVersion,
  [ConnackCode.identifierRejected]: Reason.clientIdentifierNotValid,
  [ConnackCode.serverUnavailable]: Reason.serverUnavailable,
  [ConnackCode.badUserNameOrPassword]: Reason.badUserNameOrPassword,
  [ConnackCode.notAuthorized]: Reason.notAuthorized,
}

export function handleConnect(broker: BrokerCore, connection: Connection, packet: ConnectPacket): void {
  const v5 = packet.protocolVersion === 5
  connection.version = packet.protocolVersion
  const props = packet.properties ?? {}
  const log = { clientId: packet.clientId, address: connection.address }
  if (props.authenticationMethod !== undefined) {
    // Enhanced authentication (AUTH exchanges) is not offered.
    refuse(
      broker,
      connection,
      Reason.badAuthenticationMethod,
      'enhanced authentication is not supported',
      log,
    )
    return
  }
  const cleanStart = packet.clean !== false
  let clientId = packet.clientId
  let assigned = false
  if (clientId === '') {
    // 3.1.1: an empty id only makes sense for a session nobody resumes [MQTT-3.1.3-7, 3.1.3-8].
    if (!v5 && !cleanStart) {
      refuse(broker, connection, ConnackCode.identifierRejected, 'empty client id without clean session', log)
      return
    }
    clientId = `tinymqtt-${randomUUID()}`
    assigned = true
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
  const auth = broker.access.authenticate(credentials)
  if (auth !== ConnackCode.accepted) {
    const why = auth === ConnackCode.notAuthorized ? 'no credentials' : 'bad user name or password'
    refuse(broker, connection, auth, `authentication failed: ${why}`, { ...log, username: packet.username })
    return
  }
  if (props.receiveMaximum === 0 || props.maximumPacketSize === 0) {
    throw new ProtocolError('Receive Maximum and Maximum Packet Size must not be 0', Reason.protocolError)
  }

  const claims = broker.claims
  if (claims === undefined) {
    accept(broker, connection, packet, clientId, assigned)
    return
  }
  // On a cluster node the client id is claimed first (the node holding it closes its
  // connection); the client's next packets wait in the framer meanwhile.
  connection.pause()
  const will = packet.will
  claims
    .claim(
      clientId,
      will && {
        topic: will.topic,
        payload: will.payload,
        qos: will.qos,
        retain: will.retain,
        properties: will.properties,
        delaySeconds: will.properties?.willDelayInterval ?? 0,
      },
      () =>
        broker.clients.drop(
          connection,
          'taken over by a connection on another node',
          Reason.sessionTakenOver,
        ),
      !cleanStart,
    )
    .then(
      (release) => {
        if (connection.state === 'closed') {
          release()
          return
        }
        connection.claimRelease = release
        accept(broker, connection, packet, clientId, assigned)
        connection.resume()
      },
      (error: unknown) => {
        broker.logger.warn({ err: error, ...log }, 'cluster: could not claim the client id')
        if (connection.state !== 'closed')
          refuse(
            broker,
            connection,
            ConnackCode.serverUnavailable,
            'the cluster could not claim the client id',
            log,
          )
      },
    )
}

/** Everything after authentication (and, on a cluster node, the claim): the session and CONNACK. */
function accept(
  broker: BrokerCore,
  connection: Connection,
  packet: ConnectPacket,
  clientId: string,
  assigned: boolean,
): void {
  const v5 = packet.protocolVersion === 5
  const props = packet.properties ?? {}
  const cleanStart = packet.clean !== false
  const previous = broker.clients.connected(clientId)
  if (previous) broker.clients.drop(previous, 'taken over by a new connection', Reason.sessionTakenOver)

  const expiryInterval = v5 ? (props.sessionExpiryInterval ?? 0) : cleanStart ? 0 : neverExpires
  let keepalive = packet.keepalive ?? 0
  const { maxKeepalive } = broker.options
  const capKeepalive = v5 && maxKeepalive > 0 && (keepalive === 0 || keepalive > maxKeepalive)
  if (capKeepalive) keepalive = maxKeepalive

  connection.clientId = clientId
  connection.username = packet.username
  connection.keepalive = keepalive
  connection.cleanSession = cleanStart
  connection.will = packet.will
  connection.bridge = packet.bridge === true
  if (v5) {
    connection.receiveMaximum = props.receiveMaximum ?? 65_535
    connection.maxPacketSize = props.maximumPacketSize ?? Number.POSITIVE_INFINITY
    connection.topicAliasMaximum = props.topicAliasMaximum ?? 0
    connection.problemInformation = props.requestProblemInformation !== false
  }
  const { session, present } = broker.sessions.open(clientId, cleanStart, expiryInterval)
  session.username = packet.username
  connection.session = session
  connection.state = 'connected'
  connection.connectedAt = Date.now()
  broker.clients.register(connection)
  let properties: ConnackProperties | undefined
  if (v5) {
    properties = capabilities(broker)
    if (assigned) properties.assignedClientIdentifier = clientId
    if (capKeepalive) properties.serverKeepAlive = keepalive
    if (props.requestResponseInformation) properties.responseInformation = `tinymqtt/response/${clientId}`
  }
  // MQTT 3.1 has no session-present flag: that CONNACK byte is reserved (0).
  const sessionPresent = present && connection.version !== 3
  connection.write(encodeConnack(connection.version, sessionPresent, ConnackCode.accepted, properties))
  session.resume(connection)
  broker.logger.info(
    {
      clientId,
      address: connection.address,
      protocolVersion: connection.version,
      bridge: connection.bridge || undefined,
      cleanStart,
      sessionPresent: present,
    },
    'client connected',
  )
  broker.clients.announce(connection)
}

/** What CONNACK tells an MQTT 5 client about the broker; absent Maximum QoS means 2. */
function capabilities(broker: BrokerCore): ConnackProperties {
  return {
    receiveMaximum: broker.options.receiveMaximum,
    maximumPacketSize: broker.options.maxPacketSize,
    topicAliasMaximum: broker.options.topicAliasMaximum,
    retainAvailable: true,
    wildcardSubscriptionAvailable: true,
    subscriptionIdentifiersAvailable: true,
    sharedSubscriptionAvailable: true,
  }
}

function refuse(
  broker: BrokerCore,
  connection: Connection,
  code: number,
  reason: string,
  log: Record<string, unknown> = { address: connection.address },
): void {
  // A 3.1.1 return code (all below MQTT 5's failures) becomes its MQTT 5 reason; an MQTT 5 reason
  // goes as it is.
  const wire = connection.version === 5 && !isFailure(code) ? (v5Codes[code] ?? Reason.unspecified) : code
  broker.logger.warn({ ...log, returnCode: wire }, `connection refused: ${reason}`)
  connection.write(encodeConnack(connection.version, false, wire))
  broker.clients.drop(connection, reason)
}
