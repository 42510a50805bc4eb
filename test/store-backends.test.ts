// Issue 6 point 7: the in-memory and the LMDB backend pass the same suite.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LmdbStore } from '../src/store/lmdb.ts'
import { MemoryStore } from '../src/store/memory.ts'
import type { Store } from '../src/store/store.ts'
import { defined } from './defined.ts'
import { storeSuite } from './store-suite.ts'

storeSuite({
  name: 'MemoryStore',
  open: async () => new MemoryStore(),
  // An embedder restarting its broker on the same instance.
  reopen: async (store) => {
    await store.close()
    return store
  },
  dispose: (store) => store.close(),
})

const dirs = new Map<Store, string>()
storeSuite({
  name: 'LmdbStore',
  open: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tinymqtt-store-'))
    const store = await LmdbStore.open(dir)
    dirs.set(store, dir)
    return store
  },
  // A new instance reading the directory from disk, as after a restart.
  reopen: async (store) => {
    const dir = defined(dirs.get(store), 'dirs.get(store)')
    await store.close()
    const next = await LmdbStore.open(dir)
    dirs.set(next, dir)
    return next
  },
  dispose: async (store) => {
    await store.close()
    rmSync(defined(dirs.get(store), 'dirs.get(store)'), { recursive: true, force: true })
  },
})
