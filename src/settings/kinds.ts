// The kinds of a setting's value and the builders of the table's rows: each row knows how to
// check its value from the config file and from a command-line argument.
import { InvalidArgumentError } from 'commander'

/**
 * Who takes the setting: `broker` (a BrokerOptions option, passed on by startBroker),
 * `startBroker` (an option of StartOptions itself), `listeners` (the command line's
 * single-listener shorthands, turned into `listeners` entries), `scripting` (the scripting
 * host's options, in `scripts`), `cli` (the command line alone; not in the config file).
 */
export type Consumer = 'broker' | 'startBroker' | 'listeners' | 'scripting' | 'cli'

/** The kind of a setting's value: what is checked, and what the README shows. */
export type Kind =
  | { readonly type: 'int'; readonly min: number; readonly max?: number | undefined }
  | { readonly type: 'number'; readonly min: number; readonly max: number; readonly unit: string }
  | { readonly type: 'string' }
  | { readonly type: 'path' }
  | { readonly type: 'boolean' }
  | { readonly type: 'enum'; readonly values: readonly string[] }
  | { readonly type: 'list'; readonly of: string }
  /** A nested structure, config file (and startBroker) only, documented in a README section. */
  | { readonly type: 'object'; readonly section: string }

/** Where a config-file value comes from, for messages and relative paths. */
export interface FileContext {
  /** `config file <path>`: the start of every message. */
  where: string
  /** The config file's folder. */
  dir: string
}

export interface Setting<T, C extends Consumer = Consumer> {
  readonly kind: Kind
  readonly consumer: C
  readonly help: string
  /** The default as --help and the README show it (the consumer applies it). */
  readonly default?: string | undefined
  /** One-letter alias on the command line (`p` for `-p`). */
  readonly short?: string | undefined
  /** The flag's argument placeholder (`<n>`); none for a boolean. */
  readonly arg?: string | undefined
  /** Has a command-line flag. */
  readonly cli: boolean
  /** Accepted in the config file. */
  readonly file: boolean
  /** Checks a config-file value; throws naming the file and the key. */
  readonly fromFile: (value: unknown, key: string, context: FileContext) => T
  /** Parses a command-line argument; throws commander's InvalidArgumentError. */
  readonly fromArg: (arg: string) => T
}

interface Row<C extends Consumer> {
  consumer: C
  help: string
  default?: string | number | undefined
  short?: string
  arg?: string
  /** false: config file (and startBroker) only. */
  cli?: boolean
}

/** "a non-negative integer", "an integer from 1 to 65535" …: what a value must be. */
export function expected(kind: Kind): string {
  switch (kind.type) {
    case 'int':
      if (kind.max !== undefined) return `an integer from ${kind.min} to ${kind.max}`
      return kind.min === 0 ? 'a non-negative integer' : `an integer of at least ${kind.min}`
    case 'number':
      return `a number of ${kind.unit} from ${kind.min} to ${kind.max}`
    case 'string':
    case 'path':
      return 'a string'
    case 'boolean':
      return 'true or false'
    case 'enum':
      return `one of ${kind.values.join(', ')}`
    case 'list':
      return `an array of ${kind.of}`
    case 'object':
      return `an object (README "${kind.section}")`
  }
}

export function scalar<T, C extends Consumer>(
  kind: Kind,
  row: Row<C>,
  valid: (value: unknown) => value is T,
  parse: (arg: string) => unknown,
): Setting<T, C> {
  return {
    kind,
    consumer: row.consumer,
    help: row.help,
    default: row.default === undefined ? undefined : String(row.default),
    short: row.short,
    arg: kind.type === 'boolean' ? undefined : (row.arg ?? '<value>'),
    cli: row.cli ?? true,
    file: row.consumer !== 'cli',
    fromFile: (value, key, { where }) => {
      if (!valid(value)) throw new Error(`${where}: "${key}" must be ${expected(kind)}`)
      return value
    },
    fromArg: (arg) => {
      const value = parse(arg)
      if (!valid(value)) throw new InvalidArgumentError(`not ${expected(kind)}`)
      return value
    },
  }
}

/** Number(' ') is 0; a blank argument is no number. */
const numeric = (arg: string): number => (arg.trim() === '' ? Number.NaN : Number(arg))

export function int<C extends Consumer>(row: Row<C> & { min?: number; max?: number }): Setting<number, C> {
  const kind = { type: 'int', min: row.min ?? 0, max: row.max } as const
  const valid = (v: unknown): v is number =>
    typeof v === 'number' && Number.isInteger(v) && v >= kind.min && (kind.max === undefined || v <= kind.max)
  return scalar(kind, { arg: '<n>', ...row }, valid, numeric)
}

export function degrees<C extends Consumer>(limit: number, row: Row<C>): Setting<number, C> {
  const kind = { type: 'number', min: -limit, max: limit, unit: 'degrees' } as const
  const valid = (v: unknown): v is number =>
    typeof v === 'number' && Number.isFinite(v) && Math.abs(v) <= limit
  return scalar(kind, { arg: '<deg>', ...row }, valid, numeric)
}

export const isString = (v: unknown): v is string => typeof v === 'string'

export function string<C extends Consumer>(row: Row<C>): Setting<string, C> {
  return scalar({ type: 'string' }, row, isString, (arg) => arg)
}

export function path<C extends Consumer>(row: Row<C>): Setting<string, C> {
  return scalar({ type: 'path' }, { arg: '<file>', ...row }, isString, (arg) => arg)
}

export function boolean<C extends Consumer>(row: Row<C>): Setting<boolean, C> {
  const valid = (v: unknown): v is boolean => typeof v === 'boolean'
  // Commander sets a flag without an argument to true itself; parse is never called.
  return scalar({ type: 'boolean' }, row, valid, () => true)
}

export function oneOf<const V extends string, C extends Consumer>(
  values: readonly V[],
  row: Row<C>,
): Setting<V, C> {
  const valid = (v: unknown): v is V => typeof v === 'string' && (values as readonly string[]).includes(v)
  return scalar({ type: 'enum', values }, row, valid, (arg) => arg)
}

/** A list of strings: an array in the config file, comma-separated on the command line. */
export function list<C extends Consumer>(of: string, row: Row<C>): Setting<string[], C> {
  const valid = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString)
  const split = (arg: string): string[] =>
    arg
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
  return scalar({ type: 'list', of }, { arg: '<list>', ...row }, valid, split)
}

/** A nested structure, config file (and startBroker) only, checked by its own parser. */
export function object<T, C extends Consumer>(
  section: string,
  row: Row<C>,
  parse: (value: unknown, context: FileContext) => T,
): Setting<T, C> {
  const kind = { type: 'object', section } as const
  return {
    kind,
    consumer: row.consumer,
    help: row.help,
    default: row.default === undefined ? undefined : String(row.default),
    cli: false,
    file: true,
    fromFile: (value, _key, context) => parse(value, context),
    fromArg: () => {
      throw new InvalidArgumentError(`not ${expected(kind)}`)
    },
  }
}
