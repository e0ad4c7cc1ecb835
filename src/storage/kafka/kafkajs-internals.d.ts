/**
 * The typings of the kafkajs internal modules pproxy changes in place: the definition of the
 * Produce API that kafkajs' brokers look up at every produce call (kafkajs-produce.ts), and the
 * codec table kafkajs exports as CompressionCodecs (kafkajs-codecs.ts). (The other one, the
 * producer's grouping by partition, is replaced whole in kafkajs.ts and needs none.)
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

declare module 'kafkajs/src/protocol/message/compression' {
  /** A kafkajs codec: compress() gets the records' Encoder, decompress() a batch's payload. */
  interface KafkajsCodec {
    compress(encoder: { buffer: Buffer }): Promise<Buffer>;
    decompress(payload: Buffer): Promise<Buffer>;
  }
  const compression: { Codecs: Record<number, () => KafkajsCodec> };
  export = compression;
}
