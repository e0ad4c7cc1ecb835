/**
 * ZooKeeper session events, as node-zookeeper-client names them: what the configuration source
 * reports and the metrics count. Apart from the source so that the catalog can list them without
 * loading a ZooKeeper client.
 */
export const ZK_SESSION_EVENTS = ['connected', 'disconnected', 'expired'] as const;
export type ZkSessionEvent = (typeof ZK_SESSION_EVENTS)[number];
