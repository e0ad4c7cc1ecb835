/**
 * `pproxy zk ...`: the console binding as commands (see src/console/binding.ts). Each command
 * connects, does its writes, prints what it did, and exits 0; any refusal exits 1 with the reason.
 */
import fs from 'node:fs';
import YAML from 'yaml';
import { ConsoleBinding } from '../console/binding';
import type { ZkAuth } from '../config/zookeeper/zk-auth';
import { ZkClient, ensureChroot, withCarreraRoot } from '../config/zookeeper/zk-client';
import { loadStorageRegistry } from '../node-configuration';

export type ZkCommand =
  | { kind: 'init' }
  | { kind: 'put-cluster'; cluster: string; file: string }
  | { kind: 'put-topic'; file: string }
  | { kind: 'add-pproxy'; cluster: string; host: string }
  | { kind: 'remove-pproxy'; cluster: string; host: string }
  | { kind: 'bind' | 'unbind'; topic: string; host: string }
  | { kind: 'show' };

/**
 * `configPath`: a carrera.yaml whose storage plugins are loaded (else the built-in ones only).
 * `auth`: digest credentials; the nodes written get an ACL that lets only them change the nodes.
 */
export async function runZk(connectString: string, command: ZkCommand, out: NodeJS.WritableStream, configPath?: string, auth?: ZkAuth): Promise<number> {
  const storages = loadStorageRegistry(configPath);
  await ensureChroot(connectString, 10_000, auth);
  const zk = new ZkClient(connectString, { sessionTimeout: 10_000, auth });
  zk.connect();
  try {
    await zk.waitConnected(10_000);
    const binding = new ConsoleBinding(zk, storages.types);
    const root = withCarreraRoot(connectString);
    switch (command.kind) {
      case 'init':
        await binding.init();
        out.write(`initialised ${root}\n`);
        break;
      case 'put-cluster': {
        const file = readStructured(command.file) as { carreraConfiguration?: unknown };
        await binding.putCluster(command.cluster, file.carreraConfiguration ?? file);
        out.write(`cluster ${command.cluster} written; its proxies re-pushed\n`);
        break;
      }
      case 'put-topic': {
        const topic = await binding.putTopic(readStructured(command.file));
        out.write(`topic ${topic.topic} written\n`);
        break;
      }
      case 'add-pproxy':
        await binding.addPProxy(command.cluster, command.host);
        out.write(`${command.host} bound to cluster ${command.cluster}\n`);
        break;
      case 'remove-pproxy':
        await binding.removePProxy(command.cluster, command.host);
        out.write(`${command.host} removed from cluster ${command.cluster}\n`);
        break;
      case 'bind':
      case 'unbind':
        await binding.setTopicBinding(command.topic, command.host, command.kind === 'bind');
        out.write(`topic ${command.topic} ${command.kind === 'bind' ? 'bound to' : 'unbound from'} ${command.host}\n`);
        break;
      case 'show':
        out.write(`${YAML.stringify(await binding.show())}`);
        break;
    }
    return 0;
  } finally {
    zk.close();
  }
}

/** A YAML or JSON file (JSON is YAML). */
function readStructured(file: string): unknown {
  return YAML.parse(fs.readFileSync(file, 'utf8'));
}
