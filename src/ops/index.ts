/**
 * src/ops: running the broker as a service. The health check (health.ts: the report of
 * listeners, store, scripts and bridges, and a request handler any HTTP server can mount at
 * /healthz), reloading the settings on SIGHUP (reload.ts, with what may change live and what
 * needs a restart in reload-plan.ts), and the scripting host behind a fixed reference so a
 * reload can switch script folders (script-slot.ts); and monitoring (monitoring.ts: the $SYS
 * topics, Prometheus metrics and the stand-alone metrics server).
 *
 * Must not import: src/web, src/cluster, src/testing, the entry points in src/; of src/store
 * only the Store interface (store/store.ts); of src/broker its public API, broker-options.ts
 * (the limits a reload applies) and access/index.ts (the access files a reload re-reads). Only
 * the entry points and src/web (which serves /healthz) import this folder; the broker and the
 * add-ons it reports on do not (.dependency-cruiser.cjs).
 */
export { type HealthReport, healthHandler, healthPath, healthReport, registerHealthStore } from './health.ts'
export { Reloader, type RunningSettings } from './reload.ts'
export { ScriptSlot, scriptSlotOf } from './script-slot.ts'
