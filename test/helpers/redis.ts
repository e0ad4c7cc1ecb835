/**
 * The real Redis server (Debian package `redis-server`) for a test: a fresh data dir, a free
 * loopback port, append-only persistence and no snapshots, ready when it answers PING. It can be
 * killed and started again on the same port and data, as an outage.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import type { TestContext } from 'node:test';
import { tempDir } from './config';
import { freePort } from './ports';
import { killNow } from './processes';

export class RedisServer {
  private proc: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly extraArgs: readonly string[],
  ) {}

  /** A server for this test, killed when it ends; `extraArgs` are redis-server options (`--maxmemory 4mb`). */
  static async start(t: TestContext, extraArgs: readonly string[] = []): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), tempDir(t, 'pproxy-redis-'), extraArgs);
    t.after(() => server.kill());
    await server.run();
    return server;
  }

  /** Starts (again) on the same port and data. */
  async run(): Promise<void> {
    let output = '';
    const proc = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'yes', '--daemonize', 'no', ...this.extraArgs],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const spawnError = new Promise<Error>((resolve) => proc.once('error', resolve));
    this.proc = proc;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const failed = await Promise.race([spawnError, new Promise<undefined>((r) => setTimeout(() => r(undefined), 50))]);
      if (failed) throw new Error(`redis-server could not be started (scripts/install-test-deps.sh installs it): ${failed.message}`);
      if (proc.exitCode !== null) throw new Error(`redis-server exited (${proc.exitCode}):\n${output}`);
      if ((await ping(this.port).catch(() => '')) === '+PONG') return;
    }
    throw new Error(`redis-server did not answer PING within 10 s:\n${output}`);
  }

  /** SIGKILL: an outage, not a clean stop. */
  kill(): Promise<void> {
    return killNow(this.proc);
  }
}

function ping(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
    socket.on('data', (d) => {
      resolve(d.toString().trim());
      socket.destroy();
    });
    socket.on('error', reject);
    socket.setTimeout(1000, () => socket.destroy(new Error('timeout')));
  });
}
