#!/usr/bin/env node
/**
 * Adds package-lock entries for the other platforms' optional binaries (Biome, esbuild,
 * lmdb, msgpackr …) that the npm registry reachable from our machines does not serve: without
 * them `npm install` writes a lock that `npm ci` then rejects as out of sync. npm never
 * fetches a package for another platform, so the entries need no integrity or URL.
 * Run after every `npm install` that changes the lock: node scripts/lock-platforms.mjs
 */
import { readFileSync, writeFileSync } from 'node:fs'

const path = process.argv[2] ?? 'package-lock.json'
const lock = JSON.parse(readFileSync(path, 'utf8'))
const packages = lock.packages
const systems = new Set([
  'android',
  'darwin',
  'linux',
  'win32',
  'freebsd',
  'openbsd',
  'sunos',
  'aix',
  'netbsd',
])
const cpus = new Set(['x64', 'arm64', 'arm', 'ia32', 'ppc64', 's390x', 'riscv64', 'loong64'])
const added = []
for (const [parent, meta] of Object.entries(packages)) {
  for (const [name, range] of Object.entries(meta.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`
    if (packages[key] || (parent && packages[`${parent}/${key}`])) continue
    const parts = name.split('/').at(-1).split(/[-/]/)
    const os = parts.find((p) => systems.has(p))
    const cpu = parts.find((p) => cpus.has(p))
    if (!os || !cpu) {
      console.error(`cannot tell the platform of ${name}; left out`)
      continue
    }
    const entry = { version: range.replace(/^[\^~]/, ''), cpu: [cpu] }
    if (meta.dev) entry.dev = true
    if (parts.includes('musl')) entry.libc = ['musl']
    entry.optional = true
    entry.os = [os]
    packages[key] = entry
    added.push(key)
  }
}
lock.packages = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`)
console.log(`added ${added.length} lock entries${added.length ? `: ${added.join(', ')}` : ''}`)
