#!/usr/bin/env node
/**
 * pproxy's command line: `pproxy send ...`, `pproxy tail ...`, `pproxy top`. Commands parse arguments and call
 * a module that does the work; no logic lives here. Each command loads its module when it runs, so
 * that a command loads only what it needs: `tail` reads files and needs neither Thrift nor a broker
 * client nor ZooKeeper.
 */
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { ZkCommand } from './zk';

// A reader that stops reading (`pproxy tail | head -1`) ends the command, quietly: it got what it wanted.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const DEFAULT_CONFIG = path.resolve(__dirname, '../../../carrera.yaml');

function integer(name: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return n;
  };
}

function int64(value: string): bigint {
  let n: bigint;
  try {
    n = BigInt(value);
  } catch {
    throw new InvalidArgumentError('must be a 64-bit integer');
  }
  if (n !== BigInt.asIntN(64, n)) throw new InvalidArgumentError('must fit in a signed 64-bit integer');
  return n;
}

function property(value: string, previous: Record<string, string>): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('expected name=value');
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

const program = new Command('pproxy').description('pproxy command line').showHelpAfterError();

program
  .command('send')
  .description('send messages to a running proxy and print the result codes')
  .requiredOption('-t, --topic <topic>', 'topic')
  .addOption(new Option('-b, --body <text>', 'body as UTF-8 text').conflicts('bodyFile'))
  .option('--body-file <path>', 'body read from a file, bytes as they are')
  .option('-k, --key <key>', 'message key')
  .option('--tags <tags>', 'tags')
  .option('--partition-id <n>', 'partition: >= 0 explicit, -1 by hashId, -2 random', integer('partition-id', -2147483648), -1)
  .option('--hash-id <n>', 'hashId (64-bit)', int64, 0n)
  .option('-P, --property <name=value>', 'a property (repeatable)', property, {})
  .option('-n, --count <n>', 'how many messages', integer('count', 1), 1)
  .option('--batch <n>', 'send with sendBatchSync, n messages per call', integer('batch', 1), 1)
  .addOption(new Option('--mode <mode>', 'single-message method').choices(['sync', 'async']).default('sync'))
  .option('--timeout <ms>', 'sendSync timeout argument', integer('timeout', 0), 1000)
  .option('--connections <n>', 'connections used in parallel', integer('connections', 1), 1)
  .option('-H, --host <host>', 'proxy host', '127.0.0.1')
  .option('-p, --port <port>', 'proxy port', integer('port', 1), 9613)
  .option('--tls-ca <file>', 'TLS: trust the proxy certificate by this CA file (PEM)')
  .option('--tls-cert <file>', 'mutual TLS: client certificate (PEM)')
  .option('--tls-key <file>', 'mutual TLS: its key (PEM)')
  .option('--tls-servername <name>', 'TLS: the name the proxy certificate must carry (default: the host)')
  .action(async (options) => {
    if ((options.tlsCert === undefined) !== (options.tlsKey === undefined) || (options.tlsCert !== undefined && options.tlsCa === undefined)) {
      program.error('error: --tls-cert and --tls-key go together, with --tls-ca');
    }
    if (options.body === undefined && options.bodyFile === undefined) {
      program.error('error: one of --body or --body-file is required');
    }
    const { runSend } = await import('./send.js');
    process.exitCode = await runSend(options, process.stdout);
  });

program
  .command('tail')
  .description('print the messages of a local-storage topic')
  .requiredOption('-t, --topic <topic>', 'topic')
  .option('-c, --config <file>', 'carrera.yaml of the proxy whose local storage to read', DEFAULT_CONFIG)
  .option('--cluster <name>', 'local cluster (default: the only one)')
  .option('--partition <n>', 'only this partition', integer('partition', 0))
  .option('-n, --lines <n>', 'how many of the latest messages per partition', integer('lines', 1), 10)
  .option('--from <offset>', 'start at this offset instead of the latest messages', int64)
  .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
  .action(async (options) => {
    const { runTail } = await import('./tail.js');
    process.exitCode = await runTail(options, process.stdout);
  });

program
  .command('top')
  .description("a live view of a running proxy's metrics: per topic messages/s, errors/s by code, p99 latency, in flight")
  .addOption(new Option('--url <url>', 'the /metrics URL').conflicts('admin'))
  .option('--admin <host:port>', 'the admin listener, adminBindAddress:adminPort (default: 127.0.0.1:9614)')
  .option('--interval <ms>', 'between readings', integer('interval', 100), 1000)
  .action(async (options) => {
    const { runTop } = await import('./top.js');
    process.exitCode = await runTop(options);
  });

const delay = program.command('delay').description('schedule or cancel delay messages on a running proxy');
delay
  .command('add')
  .description('schedule a delay message; prints its id')
  .requiredOption('-t, --topic <topic>', 'a delay topic')
  .requiredOption('-b, --body <text>', 'body as UTF-8 text')
  .addOption(new Option('--at <epochSeconds>', 'trigger time').argParser(integer('at', 0)).conflicts('in'))
  .option('--in <seconds>', 'trigger this many seconds from now', integer('in', 0))
  .addOption(new Option('--type <n>', '2 delay, 3 loop, 4 loop with exponent').argParser(integer('type', 0)).default(2))
  .option('--interval <n>', 'loop interval (type 3) or exponent base (type 4)', integer('interval', 0), 0)
  .option('--times <n>', 'loop count (types 3 and 4)', integer('times', 0), 0)
  .option('--expire <epochSeconds>', 'loop end (default: a day after the start)', integer('expire', 0))
  .option('--uuid <uuid>', 'the message uuid (default: a random one)')
  .option('--tags <tags>', 'tags')
  .option('-P, --property <name=value>', 'a property (repeatable)', property, {})
  .option('--timeout <ms>', 'sendDelaySync timeout argument', integer('timeout', 1), 1000)
  .option('-H, --host <host>', 'proxy host', '127.0.0.1')
  .option('-p, --port <port>', 'proxy port', integer('port', 1), 9613)
  .action(async (options) => {
    const { runDelayAdd } = await import('./delay.js');
    process.exitCode = await runDelayAdd(options, process.stdout);
  });
delay
  .command('cancel')
  .description('cancel a delay message by its id')
  .requiredOption('-t, --topic <topic>', 'its delay topic')
  .requiredOption('--id <uniqDelayMsgId>', 'the id its add returned')
  .option('--timeout <ms>', 'sendDelaySync timeout argument', integer('timeout', 1), 1000)
  .option('-H, --host <host>', 'proxy host', '127.0.0.1')
  .option('-p, --port <port>', 'proxy port', integer('port', 1), 9613)
  .action(async (options) => {
    const { runDelayCancel } = await import('./delay.js');
    process.exitCode = await runDelayCancel(options, process.stdout);
  });

const zk = program
  .command('zk')
  .description("write DDMQ's ZooKeeper layout as its console does (bind proxies and topics); with PPROXY_ZK_AUTH=user:password set, as that ZooKeeper digest user, and only it may change the nodes written")
  .requiredOption('-z, --zk <connect>', 'ZooKeeper connect string; /carrera/v4/config is appended when absent')
  .option('-c, --config <file>', 'carrera.yaml whose storage plugins (besides the built-in ones) clusters may use');
const zkAction = (toCommand: (options: Record<string, string>) => ZkCommand) => async (options: Record<string, string>) => {
  const { runZk } = await import('./zk.js');
  const { zkAuthFromEnv } = await import('../config/zookeeper/zk-auth.js');
  const { zk: connect, config } = zk.opts() as { zk: string; config?: string };
  process.exitCode = await runZk(connect, toCommand(options), process.stdout, config, zkAuthFromEnv());
};
zk.command('init').description('create the parent nodes, as the console initZkPath').action(zkAction(() => ({ kind: 'init' })));
zk.command('put-cluster')
  .description('create or replace a proxy cluster: its carreraConfiguration (YAML/JSON file); its proxies are re-pushed')
  .requiredOption('--cluster <name>', 'cluster name (its proxies form P_<name>)')
  .requiredOption('--file <path>', 'carreraConfiguration, or {carreraConfiguration: ...}')
  .action(zkAction((o) => ({ kind: 'put-cluster', cluster: o['cluster']!, file: o['file']! })));
zk.command('put-topic')
  .description("create or replace a topic (DDMQ's TopicConfig, YAML/JSON file)")
  .requiredOption('--file <path>', 'TopicConfig')
  .action(zkAction((o) => ({ kind: 'put-topic', file: o['file']! })));
for (const [name, description] of [['add-pproxy', 'bind a proxy to the cluster and all its topics'], ['remove-pproxy', 'unbind a proxy everywhere']] as const) {
  zk.command(name)
    .description(description)
    .requiredOption('--cluster <name>', 'cluster name')
    .requiredOption('--host <ip[:port]>', 'the proxy (port 9613 when omitted)')
    .action(zkAction((o) => ({ kind: name, cluster: o['cluster']!, host: o['host']! })));
}
for (const [name, description] of [['bind', 'bind one topic to one proxy'], ['unbind', 'unbind one topic from one proxy']] as const) {
  zk.command(name)
    .description(description)
    .requiredOption('--topic <topic>', 'topic')
    .requiredOption('--host <ip[:port]>', 'the proxy (port 9613 when omitted)')
    .action(zkAction((o) => ({ kind: name, topic: o['topic']!, host: o['host']! })));
}
zk.command('show').description('print clusters, topics and proxy nodes').action(zkAction(() => ({ kind: 'show' })));

program.parseAsync(process.argv).catch((err: Error) => {
  process.stderr.write(`pproxy: ${err.message}\n`);
  process.exitCode = 1;
});
