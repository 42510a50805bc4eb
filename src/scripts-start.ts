/**
 * Starts the scripts of startBroker's `scripts` option. On a single node they run at once; on a
 * cluster node they run only while this node holds the cluster's scripts lease, so exactly one
 * node runs them, and their `persist` is kept in the cluster (src/cluster/scripts-lease.ts)
 * so the node that takes over after a failover continues from the saved state.
 */
import type { Broker } from './broker/broker.ts'
import { clusterOf, type ScriptsLease } from './cluster/index.ts'
import { ScriptSlot } from './ops/index.ts'
import type { ScriptBroker, ScriptingOptions } from './scripting/index.ts'

export async function startScripts(
  broker: Broker,
  scriptBroker: ScriptBroker,
  options: ScriptingOptions,
): Promise<ScriptSlot> {
  const cluster = clusterOf(broker)
  if (!cluster) return ScriptSlot.start(broker, scriptBroker, options)
  const lease = await cluster.scriptsLease()
  const slot = ScriptSlot.standby(broker, withClusterStates(scriptBroker, lease), options)
  lease.onChange((held) => {
    slot.setActive(held).catch((error: unknown) => {
      broker.logger.error(
        { err: error },
        held ? 'cluster: the scripts did not start' : 'cluster: stopping the scripts failed',
      )
    })
  })
  // A node that wins the lease at once has its scripts loaded when startBroker resolves, as a
  // single node does; one that does not waits in standby.
  await lease.settled()
  if (lease.held) await slot.setActive(true)
  return slot
}

/** The broker as the scripts see it, with `persist` kept in the cluster instead of the local store. */
function withClusterStates(base: ScriptBroker, lease: ScriptsLease): ScriptBroker {
  return {
    get logger() {
      return base.logger
    },
    publish: (input) => base.publish(input),
    subscribe: (filter, handler) => base.subscribe(filter, handler),
    setCredentials: (user, pass) => base.setCredentials(user, pass),
    get auth() {
      return base.auth
    },
    listen: (port) => base.listen(port),
    get port() {
      return base.port
    },
    ...(base.lastValue ? { lastValue: (topic: string) => base.lastValue?.(topic) } : {}),
    ...(base.useLastValues ? { useLastValues: () => base.useLastValues?.() } : {}),
    loadScriptStates: () => lease.loadStates(),
    putScriptState: (name, json) => lease.saveState(name, json),
  }
}
