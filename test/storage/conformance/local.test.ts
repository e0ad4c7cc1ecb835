/**
 * The conformance kit against the built-in local plugin. Every topic exists on first use
 * with the cluster's partition count; each storage the kit makes gets a directory of its own, so
 * that readBack reads the one the current test writes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { localStoragePlugin } from '../../../src/storage/builtin/local';
import { readRecords } from '../../../src/storage/local/log-reader';
import { runStorageConformance } from '../../../src/storage/testing/conformance';

const PARTITIONS = 3;

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pproxy-conformance-local-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let storages = 0;
let topics = 0;
const currentDir = () => path.join(root, String(storages));

const SETTINGS = { partitions: PARTITIONS, segmentBytes: 64 * 1024, maxMessageSize: 64 * 1024 };

runStorageConformance({
  plugin: localStoragePlugin,
  config: () => {
    storages++;
    return { dir: currentDir(), ...SETTINGS };
  },
  // from ZooKeeper the directory must be inside dataDir: an absolute one is refused
  zookeeperConfig: () => ({ dir: 'conformance', ...SETTINGS }),
  createTopic: async (partitions) => {
    if (partitions > PARTITIONS) throw new Error(`the local cluster has ${PARTITIONS} partitions per topic, ${partitions} asked`);
    return `conformance_${++topics}`;
  },
  readBack: async (topic, partition) => (await readRecords(currentDir(), topic, partition)).map((record) => record.body),
});
