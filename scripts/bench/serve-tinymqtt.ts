/** tinymqtt under test, in its own process: `node --import tsx serve-tinymqtt.ts <port> [scripts dir]`. */
import { startBroker } from '../../src/index.ts'
import { announce, portArg } from './serve.ts'

const scripts = process.argv[3]
const broker = await startBroker({
  port: portArg(),
  host: '127.0.0.1',
  logLevel: 'silent',
  ...(scripts === undefined ? {} : { scripts }),
})
announce(broker.port, () => broker.close())
