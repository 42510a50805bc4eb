// Relay mirror, the case from OpenBeken's MQTTServer article: whenever relay 2 of the
// Tasmota device tasmota_476739 reports its state, switch the OpenBeken device
// obk174083A4 the same way.
//
// Scripts are ES modules run in a sandbox: no require, files or network, only the
// JavaScript standard library and the ms_* globals (see tinymqtt.d.ts).

// Broker settings can live here too, as in OpenBeken's autoexec (left off in the example):
//   ms_user('admin')   // the single user for new connections
//   ms_pass('secret')
//   ms_port(1884)      // move the MQTT listener; throws if the port cannot be bound

const SOURCE = 'stat/tasmota_476739/POWER2'
const TARGET = 'cmnd/obk174083A4/POWER'

ms_subscribe(SOURCE, (_topic, payload) => {
  ms_publish(TARGET, payload)
})

export function init() {
  print(`mirroring ${SOURCE} -> ${TARGET}`)
}
