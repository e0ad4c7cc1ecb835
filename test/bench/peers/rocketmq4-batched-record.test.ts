/**
 * The parser of mqadmin printMsgByQueue on lines a real 4.9.7 broker printed: a message stored from
 * a SEND_BATCH_MESSAGE carries the batch's WAIT after its own (twice in the record, once in the
 * printed map), and a record whose size does not add up is still refused.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseMessagesOfQueue } from '../../../bench/peers/rocketmq4-admin-output';

/** A message of a batch of ordered messages to queue 0 of conformance_4. */
const BATCHED =
  "MSGID: C000020218CA69924F3807D4ED800000 MessageExt [brokerName=broker-a, queueId=0, storeSize=214, queueOffset=0, sysFlag=0, bornTimestamp=1796214594944, bornHost=/127.0.0.1:37088, storeTimestamp=1796214594950, storeHost=/127.0.0.1:31569, msgId=7F00000100007B510000000000000B43, commitLogOffset=2883, bodyCRC=869501268, reconsumeTimes=0, preparedTransactionOffset=0, toString()=Message{topic='conformance_4', flag=0, properties={MIN_OFFSET=0, MAX_OFFSET=75, UNIQ_KEY=C000020218CA69924F3807D4ED800000, CLUSTER=DefaultCluster, WAIT=true}, body=[101, 52, 53, 57, 56, 51, 48, 56, 52, 57, 50, 53, 124, 112, 97, 114, 116, 105, 116, 105, 111, 110, 32, 48, 124, 48], transactionId='null'}] BODY: NOT PRINT BODY";

test('a message of a batch, its WAIT stored twice, parses with its body and properties', () => {
  const [pulled] = parseMessagesOfQueue(BATCHED, 'conformance_4');
  assert.equal(pulled!.message.body.toString(), 'e45983084925|partition 0|0');
  assert.deepEqual(pulled!.message.properties, { UNIQ_KEY: 'C000020218CA69924F3807D4ED800000', CLUSTER: 'DefaultCluster', WAIT: 'true' });
  assert.deepEqual([pulled!.queueMinOffset, pulled!.queueMaxOffset, pulled!.message.queueOffset], [0, 75, 0]);
});

test('a record whose stored size is not what its fields add up to is refused', () => {
  for (const storeSize of [213, 215, 203, 225]) {
    assert.throws(() => parseMessagesOfQueue(BATCHED.replace('storeSize=214', `storeSize=${storeSize}`), 'conformance_4'), /properties parsed/);
  }
});
