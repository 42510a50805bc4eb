/** The broker's place on Earth, for sun-event schedules. */
export interface Location {
  /** Degrees north, -90..90. */
  latitude: number
  /** Degrees east, -180..180. */
  longitude: number
}

/**
 * Checks a latitude/longitude pair: both or neither, finite, in range. Returns the location,
 * or undefined when neither is set; throws a RangeError that names the setting otherwise.
 */
export function locationOf(
  latitude: number | undefined,
  longitude: number | undefined,
): Location | undefined {
  if (latitude === undefined && longitude === undefined) return undefined
  if (latitude === undefined || longitude === undefined) {
    throw new RangeError('latitude and longitude must be set together')
  }
  if (!Number.isFinite(latitude) || latitude < -90 || latitude > 90) {
    throw new RangeError(`latitude must be a number of degrees from -90 to 90, got ${latitude}`)
  }
  if (!Number.isFinite(longitude) || longitude < -180 || longitude > 180) {
    throw new RangeError(`longitude must be a number of degrees from -180 to 180, got ${longitude}`)
  }
  return { latitude, longitude }
}
