/**
 * Which protocol a RocketMQ cluster is spoken to in: DDMQ's stock configuration (name servers on
 * 9876, no `protocol`) gets remoting, RocketMQ 5 proxies on their default port get gRPC, `protocol`
 * decides for any port, and a list that names both kinds without it is refused with the fix.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { schemas } from '../../helpers/schemas';
import { rocketmqClusterSchema, rocketmqProtocol } from '../../../src/storage/rocketmq/rocketmq-config';
import { schemaTools } from '../../../src/storage/storage-context';

const parse = (config: Record<string, unknown>) => rocketmqClusterSchema(schemaTools).parse(config);

test("DDMQ's stock cluster (name servers, no protocol) is spoken to over remoting; proxies on 8081 over gRPC", () => {
  assert.equal(rocketmqProtocol(parse({ namesrvAddrs: ['127.0.0.1:9876'] })), 'remoting');
  assert.equal(rocketmqProtocol(parse({ namesrvAddrs: ['10.0.0.1:9876', '10.0.0.2:19876'] })), 'remoting');
  assert.equal(rocketmqProtocol(parse({ namesrvAddrs: ['10.0.0.1:8081', 'proxy-b:8081'] })), 'grpc');
});

test('protocol decides for any port', () => {
  assert.equal(rocketmqProtocol(parse({ namesrvAddrs: ['127.0.0.1:8081'], protocol: 'remoting' })), 'remoting');
  assert.equal(rocketmqProtocol(parse({ namesrvAddrs: ['127.0.0.1:31000'], protocol: 'grpc' })), 'grpc');
  assert.equal(rocketmqProtocol(parse({ namesrvAddrs: ['a:8081', 'b:9876'], protocol: 'grpc' })), 'grpc', 'no ambiguity once it is said');
  assert.equal(rocketmqClusterSchema(schemaTools).safeParse({ namesrvAddrs: ['a:9876'], protocol: 'http' }).success, false);
});

test('without protocol, a list mixing port 8081 with other ports is refused, naming the fix', () => {
  const result = rocketmqClusterSchema(schemaTools).safeParse({ namesrvAddrs: ['10.0.0.1:9876', '10.0.0.2:8081'] });
  assert.equal(result.success, false);
  const issue = result.error!.issues[0]!;
  assert.deepEqual(issue.path, ['namesrvAddrs']);
  assert.match(issue.message, /mixes 10\.0\.0\.2:8081 .* protocol: 'remoting' \(name servers\) or 'grpc' \(RocketMQ 5 proxies\)/);
});

test('the refusal reaches carrera.yaml and ZooKeeper configurations with the cluster named', () => {
  const pproxy = (protocol?: string) => ({
    proxyCluster: 'P',
    brokerClusters: ['R1'],
    carreraConfiguration: { useRocketmq: true, rocketmqProducers: 1, rocketmqConfigurationMap: { R1: { namesrvAddrs: ['a:9876', 'b:8081'], ...(protocol && { protocol }) } } },
  });
  const refused = schemas.strict.pproxyConfig.safeParse(pproxy());
  assert.equal(refused.success, false);
  assert.deepEqual(refused.error!.issues[0]!.path, ['carreraConfiguration', 'rocketmqConfigurationMap', 'R1', 'namesrvAddrs']);
  assert.equal(schemas.strict.pproxyConfig.safeParse(pproxy('remoting')).success, true);
});
