/** Aedes under test, in its own process, with its defaults (in-memory persistence). */
import { createServer } from 'node:net'
import { Aedes } from 'aedes'
import { announce, portArg } from './serve.ts'

const aedes = await Aedes.createBroker()
const server = createServer(aedes.handle)
await new Promise<void>((resolve, reject) => {
  server.once('error', reject)
  server.listen(portArg(), '127.0.0.1', resolve)
})
const address = server.address()
if (address === null || typeof address === 'string') throw new Error('aedes listener has no port')
announce(
  address.port,
  () =>
    new Promise<void>((resolve) => {
      server.close()
      aedes.close(() => resolve())
    }),
)
