#!/usr/bin/env node
/**
 * pproxy's command line: `pproxy send ...`, `pproxy tail ...`. Commands parse arguments and call
 * a module that does the work; no logic lives here.
 */
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { runSend } from './send';
import { runTail } from './tail';

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
  .action(async (options) => {
    if (options.body === undefined && options.bodyFile === undefined) {
      program.error('error: one of --body or --body-file is required');
    }
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
    process.exitCode = await runTail(options, process.stdout);
  });

program.parseAsync(process.argv).catch((err: Error) => {
  process.stderr.write(`pproxy: ${err.message}\n`);
  process.exitCode = 1;
});
