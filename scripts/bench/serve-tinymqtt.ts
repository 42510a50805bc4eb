/** tinymqtt under test, in its own process: `node --import tsx serve-tinymqtt.ts <port> [scripts dir]`. */
import { startBroker } from '../../src/index.ts'
import { announce, portArg } from './serve.ts'

const scripts = process.argv[3]
const broker = await startBroker({
  port: portArg(),
  host: '127.0.0.1',
  logLevel: 'silent',
  // The storm scenario's persistent round: sessions kept in LMDB across a restart.
  ...(process.env.BENCH_DATA_DIR === undefined ? {} : { data: process.env.BENCH_DATA_DIR }),
  ...(scripts === undefined ? {} : { scripts }),
})
announce(broker.port, () => broker.close())
