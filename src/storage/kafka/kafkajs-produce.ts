/**
 * Puts encodeProduceRequest (produce-request.ts) in the place of kafkajs' own Produce encoder, for
 * the versions whose layout it writes (3 to 7), whatever the compression: a codec no cluster loaded
 * fails the request (record-codecs.ts) rather than going to kafkajs' encoder. Everything else of
 * the request (API key, version, whether a response is expected) and the response decoding stay
 * kafkajs'.
 *
 * kafkajs looks the Produce definition up on this module object at every produce call, so replacing
 * its `protocol` once covers every kafkajs client of the process (all of them are pproxy's).
 * kafkajs 2.2.4 (2023) is that project's last release, pinned exactly in package.json; the equivalence test
 * in test/storage/kafka/produce-request.test.ts fails if a different kafkajs encodes differently.
 */
import produceDefinitions from 'kafkajs/src/protocol/requests/produce';
import { encodeProduceRequest } from './produce-request';

const ENCODED_VERSIONS = new Set([3, 4, 5, 6, 7]);

let installed = false;

export function installProduceEncoder(): void {
  if (installed) return;
  installed = true;
  const kafkajsProtocol = produceDefinitions.protocol;
  produceDefinitions.protocol = ({ version }) => {
    const kafkajsProduce = kafkajsProtocol({ version });
    if (!ENCODED_VERSIONS.has(version)) return kafkajsProduce;
    return (args) => {
      const produce = kafkajsProduce(args);
      const encode = async () => {
        const buf = await encodeProduceRequest(args);
        return { buf, buffer: buf };
      };
      return { ...produce, request: { ...produce.request, encode } };
    };
  };
}
