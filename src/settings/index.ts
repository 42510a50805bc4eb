/**
 * src/settings: every setting of the broker, declared once (table.ts). Each row of `settings` below is one setting: its
 * name (the config-file key, and the `startBroker` option of the same name), its value kind,
 * its command-line flag, its documented default, its help text and the part that consumes it.
 * From the table derive:
 *
 * - the command-line options and their `--help` text (`addSettingOptions`; the long flag is the
 *   name in kebab case, so `maxKeepalive` is `--max-keepalive`);
 * - the config file's validation (`settingsFromFile`: an unknown key, or a value of the wrong
 *   kind, stops start-up with a message naming the file and the key);
 * - the `startBroker` options the command line starts the broker with (`startOptionsOf`), whose
 *   types are checked against `StartOptions` at compile time;
 * - the README's settings table (`settingsTable`, printed by `scripts/settings-table.ts`;
 *   test/settings-table.test.ts fails when README.md differs from it).
 *
 * Precedence: the command line over the config file over the defaults. The defaults are applied
 * by the consumers (the broker's `brokerDefaults`, the scripting host …); a row's `default` is
 * what --help and the README show, taken from those constants where there is one.
 *
 * Adding a setting:
 * 1. add the option where it is consumed, e.g. `sysInterval?: number` in BrokerOptions
 *    (src/broker/types.ts), with its default in `brokerDefaults`;
 * 2. add one row to table.ts, e.g.
 *      sysInterval: int({ consumer: 'broker', arg: '<s>', default: brokerDefaults.sysInterval,
 *                         help: 'seconds between $SYS updates (0: off)' }),
 *    (`consumer: 'startBroker'` for an option of StartOptions itself, such as `metricsPort`;
 *    `cli: false` for a config-file-only setting; `object(...)` for nested structures);
 * 3. run `node --import tsx scripts/settings-table.ts --write` to update README.md.
 * The command line, the config file, --help and the README follow; `npx tsc` says if the row's
 * type disagrees with the consumer's option.
 *
 * The folder: kinds.ts (the kinds of value and the row builders), table.ts (the table and the
 * types derived from it), command-line.ts, config-file.ts (with the startBroker options) and
 * readme-table.ts. Must not import: src/web, src/testing, src/ops' runtime beyond its defaults,
 * the entry points but start-options.ts' type (.dependency-cruiser.cjs); only the entry points
 * and scripts/ import it.
 */
export { addSettingOptions, flagsOf, settingsCommand, settingsFromCommand } from './command-line.ts'
export { settingsFromFile, startOptionsOf } from './config-file.ts'
export { type Consumer, expected, type FileContext, type Kind, type Setting } from './kinds.ts'
export { settingsTable, tableEnd, tableStart } from './readme-table.ts'
export {
  defaultDataDir,
  defaultScript,
  type FileSettings,
  logLevels,
  type NamesFor,
  type SettingName,
  type Settings,
  settingNames,
  settings,
} from './table.ts'
