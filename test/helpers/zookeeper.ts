/**
 * The real Apache ZooKeeper server (Debian package `zookeeper`) for a test: a fresh data dir, a
 * free loopback port, ready when `srvr` reports its mode (`ruok` answers `imok` before the server
 * serves, and it closes the sessions it is asked for meanwhile). It can be killed and started again
 * on the same port and data, as an outage.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { tempDir } from './config';
import { freePort } from './ports';
import { killNow } from './processes';

const CLASSPATH = '/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar';

export class ZooKeeperServer {
  private proc: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  /** host:port for clients (no chroot). */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  static async start(t: TestContext): Promise<ZooKeeperServer> {
    const server = await ZooKeeperServer.launch(tempDir(t, 'pproxy-zk-'));
    t.after(() => server.kill());
    return server;
  }

  /** Starts a server with its data in `dir` (the caller kills it and removes `dir`). */
  static async launch(dir: string): Promise<ZooKeeperServer> {
    const server = new ZooKeeperServer(await freePort(), dir);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'zoo.cfg'),
      [
        'tickTime=500',
        `dataDir=${path.join(dir, 'data')}`,
        `clientPort=${server.port}`,
        'clientPortAddress=127.0.0.1',
        'maxClientCnxns=0',
        'admin.enableServer=false',
        '4lw.commands.whitelist=ruok,srvr,stat,mntr',
        '',
      ].join('\n'),
    );
    await server.run();
    return server;
  }

  /** Starts (again) on the same port and data. */
  async run(): Promise<void> {
    let output = '';
    const proc = spawn(
      'java',
      ['-Xmx256m', '-XX:+UseSerialGC', '-cp', CLASSPATH, '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', 'org.apache.zookeeper.server.ZooKeeperServerMain', path.join(this.dir, 'zoo.cfg')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    this.proc = proc;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`zookeeper exited (${proc.exitCode}):\n${output}`);
      if ((await fourLetterWord(this.port, 'srvr').catch(() => '')).includes('Mode: standalone')) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`zookeeper did not serve within 20 s:\n${output}`);
  }

  /** SIGKILL: an outage, not a clean stop. */
  kill(): Promise<void> {
    return killNow(this.proc);
  }
}

function fourLetterWord(port: number, word: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(word));
    let answer = '';
    socket.on('data', (d) => (answer += d.toString()));
    socket.on('end', () => resolve(answer.trim()));
    socket.on('error', reject);
    socket.setTimeout(1000, () => socket.destroy(new Error('timeout')));
  });
}
