/**
 * The storage conformance kit (`pproxy/storage/testing`): the guarantees of the storage contract
 * (storage.ts, plugin-api.ts), checked against one StoragePlugin and a server it reaches, as
 * `node:test` tests. A plugin's own test file calls runStorageConformance once; so do the tests of
 * the built-in storages.
 *
 * Each test makes its own storage as the host does (settings parsed strictly with the plugin's
 * schema, a StorageContext with a fresh data directory), starts it and closes it at its end, and
 * sends to topics it asks the subject for. Every outcome of every send is checked for its shape: a
 * stored message has a partition (-1 when the storage does not know it, as with RocketMQ 5, whose
 * server picks the queue) and a bigint or no offset; a failure has a code of STORAGE_ERROR_CODES and
 * a boolean `retriable`.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import { STORAGE_PLUGIN_API_VERSION, type StoragePlugin } from '../plugin-api';
import type { ClusterStorage, OutgoingMessage, SendOutcome } from '../storage';
import { assertOffsetOrder, assertPlacement, assertStoredOrder, orderedSends } from './order-checks';
import {
  PARTITION_NOT_REPORTED,
  assertEveryStored,
  assertOutcomes,
  assertRefused,
  assertStored,
} from './outcome-checks';
import { outgoingMessage } from './outgoing-message';
import { CONFORMANCE_CLUSTER, openStorage, parseClusterConfig } from './storage-under-test';

export { outgoingMessage } from './outgoing-message';

export interface ConformanceSubject {
  /** The plugin under test. */
  readonly plugin: StoragePlugin;
  /** Settings of one cluster that reaches the server under test, as carrera.yaml would hold them (raw; the kit
   *  parses them with the plugin's schema in the host's strict mode, via withStrictness from src/config/strictness).
   *  Called once for each storage the kit creates. */
  config(): unknown | Promise<unknown>;
  /** Optional: the same settings as a ZooKeeper node would hold them, where they must differ (a path the storage
   *  writes under may be absolute in carrera.yaml, not from ZooKeeper); parsed in the host's loose mode. Default:
   *  config(). */
  zookeeperConfig?(): unknown | Promise<unknown>;
  /** A fresh topic (stream, subject…) with at least `partitions` partitions the storage can send to. */
  createTopic(partitions: number): Promise<string>;
  /** Optional: the bodies stored in one partition of a topic, in stored order. Without it, order is checked on
   *  the outcomes' offsets (which must then be reported, increasing within a partition). The kit reads the
   *  partitions outcomes report, and partitions 0 to `partitions` - 1. */
  readBack?(topic: string, partition: number): Promise<Buffer[]>;
  /** Optional (a storage with no server has none): makes the server unreachable, then reachable again. */
  readonly outage?: { begin(): Promise<void>; end(): Promise<void> };
  /**
   * What the storage does with an explicit partition at or past the count: `refused` (the default,
   * PARTITION_OUT_OF_RANGE or TOPIC_NOT_FOUND, not retriable), or `wrapped`: stored, as DDMQ stores
   * a RocketMQ message in queue `partitionId % n`.
   */
  readonly partitionsBeyondCount?: 'refused' | 'wrapped';
}

export interface ConformanceOptions {
  /** How long a send may take to be answered during an outage (default 15 000 ms); after the outage
   *  ends, sends must succeed again within twice that. */
  readonly outageBoundMs?: number;
  /** Partitions asked of createTopic (default 3). */
  readonly partitions?: number;
}

/** How long one guarantee may take before its test fails (a storage that never answers, say). */
const TEST_TIMEOUT_MS = 60_000;
/** A partition no topic of a test has. */
const ABSENT_PARTITIONS = [10_000, 2 ** 31 - 1];
const RECOVERY_POLL_MS = 200;

/** Registers a `describe('storage conformance: <kind>')` with one test per guarantee. */
export function runStorageConformance(subject: ConformanceSubject, options: ConformanceOptions = {}): void {
  const { plugin } = subject;
  const partitions = options.partitions ?? 3;
  const outageBoundMs = options.outageBoundMs ?? 15_000;
  const open = async (t: TestContext) => openStorage(t, plugin, await subject.config());
  const topic = () => subject.createTopic(partitions);

  /** Every partition a send's outcomes name, and 0 .. partitions - 1, read back. */
  const readStored = async (name: string, outcomes: readonly SendOutcome[]): Promise<Map<number, Buffer[]>> => {
    const indices = new Set(Array.from({ length: partitions }, (_, p) => p));
    for (const outcome of outcomes) if (outcome.ok && outcome.partition !== PARTITION_NOT_REPORTED) indices.add(outcome.partition);
    const stored = new Map<number, Buffer[]>();
    for (const p of [...indices].sort((a, b) => a - b)) stored.set(p, await subject.readBack!(name, p));
    return stored;
  };

  describe(`storage conformance: ${plugin.kind}`, () => {
    test('the descriptor: API version, a lower camel-case kind, a version, a schema that parses the config in both modes', async (t) => {
      assert.equal(plugin.apiVersion, STORAGE_PLUGIN_API_VERSION);
      assert.match(plugin.kind, /^[a-z][a-zA-Z0-9]*$/, `kind ${JSON.stringify(plugin.kind)} is not a lower camel-case word`);
      assert.equal(typeof plugin.version, 'string');
      assert.ok(plugin.version.length > 0, 'version is empty');
      const raw = await subject.config();
      parseClusterConfig(plugin, raw, 'strict');
      parseClusterConfig(plugin, subject.zookeeperConfig ? await subject.zookeeperConfig() : raw, 'loose');
      const storage = await openStorage(t, plugin, raw);
      assert.equal(storage.kind, plugin.kind, 'the storage names another kind than its plugin');
      assert.equal(storage.cluster, CONFORMANCE_CLUSTER, "the storage names another cluster than its context's");
    });

    test('one outcome per message, in input order, for a send mixing topics (one the storage does not have)', { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const storage = await open(t);
      const [first, second] = [await topic(), await topic()];
      const missing = `conformance_missing_${randomBytes(6).toString('hex')}`;
      const topics = [first!, missing, second!];
      const messages = Array.from({ length: 4 * topics.length }, (_, i) =>
        outgoingMessage({ topic: topics[i % topics.length]!, body: Buffer.from(`mixed ${i}`), partitionId: Math.floor(i / topics.length) % partitions }),
      );
      const outcomes = await storage.send(messages);
      assertOutcomes(outcomes, messages.length, 'mixed send');
      messages.forEach((message, i) => {
        const outcome = outcomes[i]!;
        const where = `message ${i} (${message.topic === missing ? 'missing topic' : 'topic'} ${message.topic}, partition ${message.partitionId})`;
        // a storage may create topics on first use; one that does not answers TOPIC_NOT_FOUND (DDMQ's 14)
        if (message.topic === missing) {
          if (!outcome.ok) assertRefused(outcome, ['TOPIC_NOT_FOUND'], false, where);
          return;
        }
        assertStored(outcome, where);
        if (outcome.partition !== PARTITION_NOT_REPORTED) assert.equal(outcome.partition, message.partitionId, `${where}: stored on partition ${outcome.partition}`);
      });
    });

    test('send never rejects: an empty array, and messages a storage may refuse', { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const storage = await open(t);
      const name = await topic();
      assert.deepEqual(await storage.send([]), []);
      const body = Buffer.from('odd');
      const odd: OutgoingMessage[] = [
        outgoingMessage({ topic: `conformance_missing_${randomBytes(6).toString('hex')}`, body }),
        outgoingMessage({ topic: name, body, partitionId: ABSENT_PARTITIONS[0]! }),
        outgoingMessage({ topic: 'not a topic/..', body }),
        outgoingMessage({ topic: name, body: Buffer.alloc(0) }),
        outgoingMessage({ topic: name, body, partitionId: -1, hashId: -(2n ** 63n), ordered: true }),
        outgoingMessage({ topic: name, body, key: '', tags: '', properties: new Map() }),
      ];
      for (const [i, message] of odd.entries()) assertOutcomes(await storage.send([message]), 1, `odd message ${i} alone`);
      assertOutcomes(await storage.send(odd), odd.length, 'odd messages together');
    });

    test('per-partition order for ordered messages (partition and hashId hints, concurrent sends)', { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const storage = await open(t);
      const name = await topic();
      const run = randomBytes(6).toString('hex');
      const plan = orderedSends(name, partitions, 6, 50, run);
      const answers = await Promise.all(plan.map((send) => storage.send(send.map((m) => m.message))));
      answers.forEach((outcomes, s) => assertOutcomes(outcomes, plan[s]!.length, `ordered send ${s}`));
      const sent = plan.flat();
      const outcomes = answers.flat();
      assertEveryStored(outcomes, 'ordered sends');
      assertPlacement(sent, outcomes);
      assertOffsetOrder(sent, outcomes, subject.readBack === undefined);
      if (subject.readBack) assertStoredOrder(sent, outcomes, await readStored(name, outcomes), run);
    });

    const wrapped = subject.partitionsBeyondCount === 'wrapped';
    const absentPartitions = wrapped
      ? 'an explicit partition past the count is stored (wrapped, as DDMQ does on RocketMQ), beside the other messages'
      : 'an explicit partition that does not exist is a failure, not retriable, of that message only';
    test(absentPartitions, { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const storage = await open(t);
      const name = await topic();
      const body = Buffer.from('absent partition');
      const messages = [
        ...ABSENT_PARTITIONS.map((partitionId) => outgoingMessage({ topic: name, body, partitionId })),
        outgoingMessage({ topic: name, body, partitionId: ABSENT_PARTITIONS[0]!, ordered: true }),
        outgoingMessage({ topic: name, body }),
      ];
      const outcomes = await storage.send(messages);
      assertOutcomes(outcomes, messages.length, 'send with absent partitions');
      messages.slice(0, -1).forEach((m, i) => {
        const what = `partition ${m.partitionId}${m.ordered ? ', ordered' : ''}`;
        if (wrapped) assertStored(outcomes[i]!, what);
        else assertRefused(outcomes[i]!, ['PARTITION_OUT_OF_RANGE', 'TOPIC_NOT_FOUND'], false, what);
      });
      assertStored(outcomes.at(-1)!, 'the random-partition message beside them');
    });

    test('maxMessageSize, when defined: a body over it fails MESSAGE_TOO_LARGE, not retriable; one at it is stored', { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const storage = await open(t);
      const limit = storage.maxMessageSize;
      if (limit === undefined) {
        t.diagnostic('maxMessageSize is undefined: the storage sets no limit of its own');
        return;
      }
      assert.ok(Number.isInteger(limit) && limit > 0, `maxMessageSize ${limit} is not a positive integer`);
      const name = await topic();
      const messages = [outgoingMessage({ topic: name, body: Buffer.alloc(limit, 0x61) }), outgoingMessage({ topic: name, body: Buffer.alloc(limit + 1, 0x62) })];
      const outcomes = await storage.send(messages);
      assertOutcomes(outcomes, 2, 'bodies at and over maxMessageSize');
      assertStored(outcomes[0]!, `a body of maxMessageSize (${limit}) bytes`);
      assertRefused(outcomes[1]!, ['MESSAGE_TOO_LARGE'], false, `a body of ${limit + 1} bytes`);
    });

    test('body bytes are stored exactly (all 256 byte values)', { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const storage = await open(t);
      const name = await topic();
      const ascending = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const bodies = [ascending, Buffer.from(ascending).reverse(), Buffer.concat([ascending, ascending])];
      const outcomes = await storage.send(bodies.map((body) => outgoingMessage({ topic: name, body, partitionId: 0 })));
      assertOutcomes(outcomes, bodies.length, 'binary bodies');
      assertEveryStored(outcomes, 'binary bodies');
      if (!subject.readBack) return;
      const stored = [...(await readStored(name, outcomes)).values()].flat();
      const hex = (list: readonly Buffer[]) => list.map((b) => b.toString('hex')).sort();
      assert.deepEqual(hex(stored), hex(bodies), 'the bodies read back differ from those sent');
    });

    test('after close() sends fail CLOSED, retriable; a second close() resolves', { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const storage = await open(t);
      const name = await topic();
      const message = (i: number) => outgoingMessage({ topic: name, body: Buffer.from(`close ${i}`) });
      const [before] = await storage.send([message(0)]);
      assertStored(before!, 'a message before close()');
      await storage.close();
      const messages = [message(1), message(2)];
      const outcomes = await storage.send(messages);
      assertOutcomes(outcomes, messages.length, 'send after close()');
      outcomes.forEach((outcome, i) => assertRefused(outcome, ['CLOSED'], true, `message ${i} after close()`));
      await storage.close();
    });

    test('warmUp, when present, never rejects, also for topics that do not exist', { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const storage = await open(t);
      if (storage.warmUp === undefined) {
        t.diagnostic('the storage has no warmUp');
        return;
      }
      const name = await topic();
      await storage.warmUp([]);
      await storage.warmUp([name, `conformance_missing_${randomBytes(6).toString('hex')}`, 'not a topic/..']);
      const [outcome] = await storage.send([outgoingMessage({ topic: name, body: Buffer.from('warm') })]);
      assertStored(outcome!, 'a message after warmUp');
    });

    test('concurrent sends (20 of 50 messages at once) are all answered and stored', { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const storage = await open(t);
      const name = await topic();
      const sends = Array.from({ length: 20 }, (_, s) =>
        Array.from({ length: 50 }, (_, j) => outgoingMessage({ topic: name, body: Buffer.from(`concurrent ${s} ${j}`) })),
      );
      const answers = await Promise.all(sends.map((messages) => storage.send(messages)));
      answers.forEach((outcomes, s) => {
        assertOutcomes(outcomes, sends[s]!.length, `concurrent send ${s}`);
        assertEveryStored(outcomes, `concurrent send ${s}`);
      });
      if (!subject.readBack) return;
      const stored = [...(await readStored(name, answers.flat())).values()].flat().map((b) => b.toString());
      assert.deepEqual(stored.sort(), sends.flat().map((m) => m.body.toString()).sort(), 'what was read back differs from what was sent');
    });

    const { outage } = subject;
    if (outage !== undefined) {
      test(`during a server outage sends fail retriably within ${outageBoundMs} ms; afterwards they succeed again`, { timeout: outageBoundMs * 6 + TEST_TIMEOUT_MS }, async (t) => {
        const storage = await open(t);
        const [warm, cold] = [await topic(), await topic()];
        const message = (name: string, label: string) => outgoingMessage({ topic: name, body: Buffer.from(`outage ${label}`) });
        const [before] = await storage.send([message(warm, 'before')]);
        assertStored(before!, 'a message before the outage');
        await outage.begin();
        try {
          await answeredRetriably(storage, [message(warm, 'during'), message(cold, 'during, unused topic')], outageBoundMs);
        } finally {
          await outage.end();
        }
        await storedAgain(storage, message(warm, 'after'), 2 * outageBoundMs);
      });
    }
  });
}

/** Each message sent on its own, all at once: every one answered within `boundMs`, with a retriable failure. */
async function answeredRetriably(storage: ClusterStorage, messages: readonly OutgoingMessage[], boundMs: number): Promise<void> {
  const started = performance.now();
  const answers = await Promise.all(messages.map((m) => storage.send([m]).then((outcomes) => ({ outcomes, ms: performance.now() - started }))));
  answers.forEach(({ outcomes, ms }, i) => {
    const where = `message ${i} during the outage`;
    assertOutcomes(outcomes, 1, where);
    assert.ok(ms <= boundMs, `${where}: answered after ${Math.round(ms)} ms`);
    const [outcome] = outcomes;
    if (outcome!.ok) assert.fail(`${where}: stored while the server was unreachable`);
    assert.equal(outcome!.error.retriable, true, `${where}: ${outcome!.error.code} is not retriable`);
  });
}

/** Sends `message` until it is stored, within `boundMs`; failures meanwhile must be retriable. */
async function storedAgain(storage: ClusterStorage, message: OutgoingMessage, boundMs: number): Promise<void> {
  const deadline = performance.now() + boundMs;
  for (let attempt = 0; ; attempt++) {
    const outcomes = await storage.send([message]);
    assertOutcomes(outcomes, 1, `attempt ${attempt} after the outage`);
    const [outcome] = outcomes;
    if (outcome!.ok) return;
    assert.equal(outcome!.error.retriable, true, `attempt ${attempt} after the outage: ${outcome!.error.code} is not retriable`);
    assert.ok(performance.now() < deadline, `not stored ${boundMs} ms after the outage ended: ${outcome!.error.code}: ${outcome!.error.message}`);
    await new Promise((resolve) => setTimeout(resolve, RECOVERY_POLL_MS));
  }
}
