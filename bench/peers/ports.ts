/**
 * Loopback ports for test and bench servers.
 *
 * They come from below the kernel's ephemeral range, not from a bind to port 0: the ephemeral range is
 * where connect() takes the local port of every outgoing connection, so a port from there that a
 * server gives up for a moment (a broker killed and restarted on the same ports) can be taken by any
 * client on the machine in between. Below the range only an explicit bind can take it.
 */
import fs from 'node:fs';
import net from 'node:net';

/** The lowest port handed out: above the ports that well-known services listen on by default. */
const LOWEST = 20_000;
const ATTEMPTS = 500;

/** Handed out by this process already: never twice, even once the server on it has stopped. */
const handedOut = new Set<number>();

/**
 * A loopback port free at the time of the call, with `neighbours` (offsets from it) free too: for a
 * server that derives more listeners from its port, as RocketMQ's broker does with port - 2.
 */
export async function freePort(neighbours: readonly number[] = []): Promise<number> {
  const highest = ephemeralLow() - 1 - Math.max(0, ...neighbours);
  const lowest = LOWEST - Math.min(0, ...neighbours);
  if (highest - lowest < 1000) return kernelPort();
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const port = lowest + Math.floor(Math.random() * (highest - lowest + 1));
    const ports = [port, ...neighbours.map((offset) => port + offset)];
    if (ports.some((p) => handedOut.has(p))) continue;
    if (!(await allListenable(ports))) continue;
    for (const p of ports) handedOut.add(p);
    return port;
  }
  throw new Error(`no free loopback port between ${lowest} and ${highest} after ${ATTEMPTS} attempts`);
}

/** The first port of the kernel's ephemeral range; Linux's default when it cannot be read. */
function ephemeralLow(): number {
  try {
    const low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

async function allListenable(ports: readonly number[]): Promise<boolean> {
  for (const port of ports) if (!(await listenable(port))) return false;
  return true;
}

function listenable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A machine whose ephemeral range starts too low to leave room: the kernel's choice, from that range. */
function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}
