/**
 * The typings of the kafkajs internal module pproxy changes in place (see kafkajs-produce.ts): the
 * definition of the Produce API that kafkajs' brokers look up at every produce call. (The other
 * one, the producer's grouping by partition, is replaced whole in kafkajs.ts and needs none.)
 */
declare module 'kafkajs/src/protocol/requests/produce' {
  /** What kafkajs' createRequest accepts from `encode()`: an Encoder, or anything with its buffer. */
  interface EncodedRequest {
    buf: Buffer;
    readonly buffer: Buffer;
  }
  interface ProduceProtocolRequest {
    apiKey: number;
    apiVersion: number;
    apiName: string;
    expectResponse(): boolean;
    encode(): Promise<EncodedRequest>;
  }
  type ProduceProtocol = (args: import('./produce-request').ProduceRequestArgs) => { request: ProduceProtocolRequest; response: unknown };
  const definitions: {
    versions: string[];
    protocol(options: { version: number }): ProduceProtocol;
  };
  export = definitions;
}
