/** tinymqtt under test, in its own process: `node --import tsx serve-tinymqtt.ts <port>`. */
import { startBroker } from '../../src/index.ts'
import { announce, portArg } from './serve.ts'

const broker = await startBroker({ port: portArg(), host: '127.0.0.1', logLevel: 'silent' })
announce(broker.port, () => broker.close())
