/** Throws ProtocolError unless every property is allowed in `packet`, present once, and well-formed. */
export declare function checkProperties(packet: string, properties: object | undefined): void;
