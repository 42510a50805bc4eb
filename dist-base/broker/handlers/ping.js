import { pingresp } from "../protocol/encode.js";
export function handlePing(connection) {
    connection.write(pingresp);
}
//# sourceMappingURL=ping.js.map