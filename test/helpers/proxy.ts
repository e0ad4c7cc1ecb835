/**
 * Running proxies for tests: in-process (ProxyApp on port 0) or as a child process of the real
 * entry point. Both are stopped when the test ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { ProxyApp } from '../../src/app';
import { ProducerClient } from '../../src/client/producer-client';
import { loadNodeConfiguration } from '../../src/node-configuration';
import { silentLogger } from '../../src/log';
import { REPO_ROOT } from '../../bench/peers/peer-jars';
import { localConfig, tempDir, writeConfig, type LocalConfigOptions } from './config';

export { REPO_ROOT };
export const CLI_JS = path.join(REPO_ROOT, 'dist/src/cli/pproxy.js');
/** The proxy process as every start runs it: node with the proxy's V8 flags on dist/src/main.js. */
export const PROXY_SERVER = path.join(REPO_ROOT, 'bin/pproxy-server');

/** The environment of a proxy process: this one's, with this test's node. */
export function proxyEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...env, NODE: process.execPath };
}

export interface InProcessProxy {
  app: ProxyApp;
  port: number;
  dataDir: string;
  configFile: string;
  client(): Promise<ProducerClient>;
}

export async function startProxy(t: TestContext, options: LocalConfigOptions = {}): Promise<InProcessProxy> {
  const dir = tempDir(t);
  const file = writeConfig(dir, localConfig(options));
  const node = loadNodeConfiguration(file);
  const app = await ProxyApp.start(node, silentLogger());
  t.after(() => app.stop());
  const port = app.address().port;
  return {
    app,
    port,
    dataDir: node.settings.dataDir,
    configFile: file,
    client: async () => {
      const c = await ProducerClient.connect('127.0.0.1', port);
      t.after(() => c.close());
      return c;
    },
  };
}

export interface ChildProxy {
  proc: ChildProcess;
  port: number;
  output(): string;
  exited: Promise<number | null>;
}

/**
 * Starts the proxy process on a config file and waits for its "listening on" line. `server` is the
 * start script of the build to run: this checkout's, or another's (the bench's --baseline).
 */
export async function startProxyProcess(t: TestContext, configFile: string, server = PROXY_SERVER): Promise<ChildProxy> {
  const proc = spawn(server, [configFile, '--foreground'], { stdio: ['ignore', 'pipe', 'pipe'], env: proxyEnv() });
  let output = '';
  proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  t.after(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`proxy did not start:\n${output}`)), 15_000);
    const check = () => {
      const m = / listening on [^ ]+:(\d+) /.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    proc.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`proxy exited with ${code}:\n${output}`));
    });
  });
  return { proc, port, output: () => output, exited };
}
