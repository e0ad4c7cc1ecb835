/**
 * The real NATS server with JetStream (Debian package `nats-server`) for a test: a fresh store
 * directory, a free loopback port, ready when its monitoring endpoint answers `/healthz` with
 * JetStream up. It can be paused and resumed, killed and started again on the same port and store
 * (as an outage), or started again requiring a user its clients do not have.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { tempDir } from './config';
import { freePort } from './ports';
import { killNow, stopNow } from './processes';

export const NATS_SERVER = '/usr/sbin/nats-server';

export class NatsServer {
  private proc: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly monitorPort: number,
    private readonly storeDir: string,
    private readonly jetstream: boolean,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** With `jetstream: false`, a plain NATS server (no JetStream). */
  static async start(t: TestContext, { jetstream = true }: { jetstream?: boolean } = {}): Promise<NatsServer> {
    const server = new NatsServer(await freePort(), await freePort(), path.join(tempDir(t, 'pproxy-nats-'), 'store'), jetstream);
    t.after(() => server.kill());
    await server.run();
    return server;
  }

  /** Starts (again) on the same port and store; with `user`, clients must log in as that user. */
  async run({ user }: { user?: { name: string; password: string } } = {}): Promise<void> {
    let output = '';
    const store = this.jetstream ? ['-js', '-sd', this.storeDir] : [];
    const auth = user ? ['--user', user.name, '--pass', user.password] : [];
    const proc = spawn(NATS_SERVER, [...store, ...auth, '-a', '127.0.0.1', '-p', String(this.port), '-m', String(this.monitorPort)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const spawned = new Promise<void>((resolve, reject) => {
      proc.once('spawn', resolve);
      proc.once('error', (error) => reject(new Error(`cannot run ${NATS_SERVER} (scripts/install-test-deps.sh installs it): ${error.message}`)));
    });
    this.proc = proc;
    await spawned;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`nats-server exited (${proc.exitCode}):\n${output}`);
      if ((await healthz(this.monitorPort, this.jetstream).catch(() => 0)) === 200) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`nats-server was not healthy within 20 s:\n${output}`);
  }

  /** SIGSTOP: the server keeps its connections open and answers nothing (kill() still ends it). */
  async pause(): Promise<void> {
    if (this.proc) await stopNow(this.proc, 'nats-server');
  }

  /** SIGCONT after pause(): the server reads what was written to it meanwhile and answers. */
  resume(): void {
    this.proc?.kill('SIGCONT');
  }

  /** The client connections the server has now (its monitoring endpoint's /varz). */
  async connections(): Promise<number> {
    const varz = JSON.parse(await monitor(this.monitorPort, '/varz')) as { connections: number };
    return varz.connections;
  }

  /** SIGKILL: an outage, not a clean stop. */
  kill(): Promise<void> {
    return killNow(this.proc);
  }
}

function monitor(port: number, route: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: route, timeout: 5000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve(body));
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', reject);
  });
}

/** The status code of /healthz (200 once the server, and JetStream if asked for, is up). */
function healthz(port: number, jetstream: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: jetstream ? '/healthz?js-enabled-only=true' : '/healthz', timeout: 1000 }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', reject);
  });
}
