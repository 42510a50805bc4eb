/**
 * The longest delay a Node timer takes: a longer one fires after 1 ms, with only a
 * TimeoutOverflowWarning, while MQTT 5 intervals run to 2^32-1 seconds. Longer waits are
 * made of steps of at most this.
 */
export const maxTimerMs = 2 ** 31 - 1
