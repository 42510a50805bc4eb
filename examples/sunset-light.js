// Schedule example: switch the porch light on at sunset. Sun times need the broker's
// location: start it with --latitude <deg> --longitude <deg> (or latitude/longitude in the
// config file). Without one this script says so and does nothing else.

/** @type {number | undefined} */
let atSunset

try {
  atSunset = ms_schedule('sunset', () => ms_publish('cmnd/porch/POWER', 'ON'))
} catch (e) {
  print(`sunset-light.js needs the broker's location (--latitude/--longitude); not scheduling: ${e.message}`)
}

export function init() {
  const next = atSunset === undefined ? undefined : ms_next(atSunset)
  if (next !== undefined) print(`porch light on at ${new Date(next).toISOString()}`)
}
