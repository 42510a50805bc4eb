import { readFile, stat } from 'node:fs/promises'
import { type BridgeChanges, bridgesOf, startBridges } from '../bridge/index.ts'
import {
  type AclRules,
  FileAccessControl,
  type PasswordHash,
  parseAcl,
  parsePasswordFile,
} from '../broker/access/index.ts'
import type { Broker } from '../broker/broker.ts'
import { resolveOptions } from '../broker/broker-options.ts'
import {
  differs,
  inForce,
  liveLimits,
  pendingRestart,
  type RunningSettings,
  scriptingOf,
} from './reload-plan.ts'
import { scriptSlotOf } from './script-slot.ts'

export type { RunningSettings } from './reload-plan.ts'

/** The access files' new contents, read before anything is applied. */
interface AccessContents {
  passwords?: Map<string, PasswordHash>
  acl?: AclRules
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/**
 * Reloads a running broker's settings (SIGHUP): reads them again with `read` (the same function
 * that computed them at start), then the password and ACL files, and only when all of that
 * succeeded applies what can change live: the log level, the single user, the limits for new
 * connections, the access files' contents, the bridges and the scripts. What needs a restart is
 * logged. A reload that cannot read its inputs is logged and changes nothing.
 */
export class Reloader {
  private running: RunningSettings
  private busy: Promise<boolean> | undefined
  private again = false

  constructor(
    private readonly broker: Broker,
    running: RunningSettings,
    private readonly read: () => Promise<RunningSettings>,
  ) {
    this.running = running
  }

  /** Reloads; a call during a reload runs once more after it. Resolves false when nothing was applied. */
  reload(): Promise<boolean> {
    if (this.busy) {
      this.again = true
      return this.busy
    }
    this.busy = this.run().finally(() => {
      this.busy = undefined
      if (this.again) {
        this.again = false
        void this.reload()
      }
    })
    return this.busy
  }

  private async run(): Promise<boolean> {
    const logger = this.broker.logger
    let next: RunningSettings
    let access: AccessContents
    try {
      next = await this.read()
      access = await this.readAccess(next)
      await this.checkScripts(next)
    } catch (error) {
      logger.error({ reason: message(error) }, 'reload failed; the running settings stay')
      return false
    }
    const running = this.running
    const changed: string[] = []
    const level = next.logLevel ?? 'info'
    if (logger.level !== level) {
      logger.level = level
      changed.push('logLevel')
    }
    if (differs('user', running, next) || differs('pass', running, next)) {
      this.broker.setCredentials(next.user, next.pass)
      changed.push('user')
    }
    const limits = resolveOptions(next)
    for (const key of liveLimits) {
      if (this.broker.options[key] === limits[key]) continue
      this.broker.options[key] = limits[key]
      changed.push(key)
    }
    if (this.broker.access instanceof FileAccessControl) this.broker.access.replaceContents(access)
    if (differs('bridges', running, next) && (await this.applyBridges(next))) changed.push('bridges')
    const applied = inForce(running, next)
    if (differs('scripts', running, next)) {
      if (await this.applyScripts(next)) changed.push('scripts')
      else applied.scripts = running.scripts
    }
    this.running = applied
    const restart = pendingRestart(running, next)
    for (const setting of restart) logger.warn(setting, 'setting changed; it takes effect after a restart')
    logger.info({ changed, restartNeeded: restart.map((s) => s.setting) }, 'configuration reloaded')
    return true
  }

  /** Reads the password and ACL files in force again; a file the new settings name instead waits for a restart. */
  private async readAccess(next: RunningSettings): Promise<AccessContents> {
    const access = this.broker.access
    if (!(access instanceof FileAccessControl)) return {}
    const contents: AccessContents = {}
    const read = async <T>(path: string, what: string, parse: (text: string) => T): Promise<T> => {
      try {
        return parse(await readFile(path, 'utf8'))
      } catch (error) {
        throw new Error(`${what} ${path}: ${message(error)}`)
      }
    }
    if (access.passwordFile !== undefined && access.passwordFile === next.passwordFile)
      contents.passwords = await read(access.passwordFile, 'password file', parsePasswordFile)
    if (access.aclFile !== undefined && access.aclFile === next.aclFile)
      contents.acl = await read(access.aclFile, 'ACL file', parseAcl)
    return contents
  }

  /** A scripts path that does not exist is a broken config: the running scripts stay. */
  private async checkScripts(next: RunningSettings): Promise<void> {
    const path = scriptingOf(next.scripts)?.path
    if (path === undefined || !differs('scripts', this.running, next)) return
    try {
      await stat(path)
    } catch (error) {
      throw new Error(`scripts ${path}: ${message(error)}`)
    }
  }

  private async applyBridges(next: RunningSettings): Promise<boolean> {
    const logger = this.broker.logger
    const specs = next.bridges ?? []
    try {
      let changes: BridgeChanges | undefined
      const running = bridgesOf(this.broker)
      if (running) changes = await running.update(specs)
      else if (specs.length > 0) {
        await startBridges(this.broker, specs)
        changes = { added: specs.map((s) => s.name), removed: [], changed: [] }
      }
      if (changes) logger.info(changes, 'bridges updated')
      return true
    } catch (error) {
      logger.error({ reason: message(error) }, 'bridges not updated')
      return false
    }
  }

  private async applyScripts(next: RunningSettings): Promise<boolean> {
    const logger = this.broker.logger
    const slot = scriptSlotOf(this.broker)
    const options = scriptingOf(next.scripts)
    if (!slot) {
      logger.warn(
        { setting: 'scripts', configured: options?.path },
        'setting changed; it takes effect after a restart',
      )
      return false
    }
    try {
      await slot.replace(options)
      logger.info({ path: options?.path }, options ? 'scripts reloaded from the new path' : 'scripts stopped')
      return true
    } catch (error) {
      logger.error({ reason: message(error), path: options?.path }, 'scripts could not start')
      // The old scripts are stopped all the same: the new path is the one in force.
      return true
    }
  }
}
