/**
 * The one kafkajs release pproxy's replacements inside kafkajs (kafkajs.ts, kafkajs-produce.ts,
 * kafkajs-codecs.ts) are written against. Another release may have moved or changed what they
 * replace, and would run half-patched or not at all: loading this module with any other kafkajs
 * installed throws, so the proxy refuses to start and says why. kafkajs.ts loads it before anything
 * of kafkajs.
 */
export const PATCHED_KAFKAJS_VERSION = '2.2.4';

const installed = (require('kafkajs/package.json') as { version: string }).version;
if (installed !== PATCHED_KAFKAJS_VERSION) {
  throw new Error(
    `pproxy replaces parts of kafkajs ${PATCHED_KAFKAJS_VERSION} and cannot run on kafkajs ${installed} ` +
      `(${require.resolve('kafkajs/package.json')}): install kafkajs@${PATCHED_KAFKAJS_VERSION} exactly`,
  );
}
