/**
 * Writes many ZooKeeper nodes quickly, for tests and benchmarks of large configurations: requests
 * pipelined (1000 in flight) on one session, straight to the client library (ZkClient.put costs a
 * failed setData per new node).
 */
import type { ZkClient } from '../../src/config/zookeeper/zk-client';
import { mapConcurrently } from '../../src/util/concurrency';

const IN_FLIGHT = 1000;

/** Creates each node (its parent must exist) with its data. */
export async function createNodes(zk: ZkClient, nodes: ReadonlyArray<readonly [path: string, data: string]>): Promise<void> {
  await mapConcurrently(nodes, IN_FLIGHT, ([path, data]) => new Promise<void>((resolve, reject) => {
    zk.client.create(path, Buffer.from(data, 'utf8'), (error) => (error ? reject(error) : resolve()));
  }));
}

/** Replaces the data of each existing node. */
export async function replaceNodes(zk: ZkClient, nodes: ReadonlyArray<readonly [path: string, data: string]>): Promise<void> {
  await mapConcurrently(nodes, IN_FLIGHT, ([path, data]) => new Promise<void>((resolve, reject) => {
    zk.client.setData(path, Buffer.from(data, 'utf8'), -1, (error) => (error ? reject(error) : resolve()));
  }));
}
