/**
 * What a ZooKeeper node's data says, read as DDMQ's proxy reads it: JSON, through the loose
 * schemas (DDMQ's rules, unknown fields let through) and, for a pproxy node, DDMQ's
 * checkProxyConfig. The fields the strict schemas do not know are named, so that they can be
 * reported: the console writes some this proxy does not use.
 */
import type { z } from 'zod';
import { describeIssues } from '../load';
import { pproxyConfigProblems } from '../problems';
import { configSchemas, topicSchemas, type ClusterType, type PProxyConfig, type TopicConfig } from '../schema';

export type NodeReading<T> =
  | { readonly accepted: true; readonly config: T; readonly unusedFields: readonly string[] }
  | { readonly accepted: false; readonly reason: string; readonly problems: readonly string[] };

/** `types`: the cluster types (storage plugins) of this node; a cluster map none provides refuses the node. */
export function readPProxyNode(path: string, data: Buffer, types: readonly ClusterType[]): NodeReading<PProxyConfig> {
  const schemas = configSchemas(types);
  const reading = readNode(path, data, schemas.strict.pproxyConfig, schemas.loose.pproxyConfig);
  if (!reading.accepted) return reading;
  const problems = pproxyConfigProblems(reading.config, path, types);
  return problems.length > 0 ? { accepted: false, reason: 'pproxy config refused', problems } : reading;
}

export function readTopicNode(path: string, data: Buffer): NodeReading<TopicConfig> {
  return readNode(path, data, topicSchemas.strict, topicSchemas.loose);
}

function readNode<T>(path: string, data: Buffer, strict: z.ZodType<T>, loose: z.ZodType<T>): NodeReading<T> {
  let json: unknown;
  try {
    json = JSON.parse(data.toString('utf8'));
  } catch (err) {
    return { accepted: false, reason: 'node is not JSON', problems: [(err as Error).message] };
  }
  const parsed = loose.safeParse(json);
  if (!parsed.success) return { accepted: false, reason: 'node refused', problems: describeIssues(path, parsed.error.issues).split('\n') };
  const exact = strict.safeParse(json);
  const unusedFields = exact.success
    ? []
    : exact.error.issues
        .filter((i): i is z.core.$ZodIssueUnrecognizedKeys => i.code === 'unrecognized_keys')
        .flatMap((i) => i.keys.map((key) => [...i.path, key].join('.')));
  return { accepted: true, config: parsed.data, unusedFields };
}
