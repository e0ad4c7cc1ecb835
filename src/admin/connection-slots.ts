/**
 * The admin listener's connections: at most `max` open, and none held without a request. A
 * connection without a request under way (none received yet, or its last one answered) is closed
 * after `idleMs`; when every slot is taken, a new connection takes the slot of the one idle
 * longest. So connections that send nothing cannot lock the probes out: only when every open
 * connection has a request under way is a new one refused.
 */
import type { Socket } from 'node:net';
import type { Timers } from '../time/timers';

interface Slot {
  /** Requests received and not yet answered (more than one when a client pipelines). */
  requests: number;
  /** Set while no request is under way: when it became idle, and the timer that closes it. */
  idle: { since: number; timer: unknown } | undefined;
}

export class ConnectionSlots {
  private readonly open = new Map<Socket, Slot>();

  constructor(
    private readonly max: number,
    private readonly idleMs: number,
    private readonly timers: Timers,
  ) {}

  get size(): number {
    return this.open.size;
  }

  /** A new connection: given a slot (an idle one's, if every slot is taken) or closed. */
  admit(socket: Socket): void {
    if (this.open.size >= this.max) {
      const idlest = this.idlest();
      if (!idlest) {
        socket.destroy();
        return;
      }
      this.close(idlest);
    }
    this.open.set(socket, { requests: 0, idle: undefined });
    socket.once('close', () => this.release(socket));
    this.idle(socket);
  }

  /** A request arrived on `socket`: it is not idle until that request is answered. */
  requestReceived(socket: Socket): void {
    const slot = this.open.get(socket);
    if (!slot) return;
    slot.requests++;
    if (slot.idle) this.timers.clear(slot.idle.timer);
    slot.idle = undefined;
  }

  /** One of `socket`'s requests was answered (or abandoned). */
  requestEnded(socket: Socket): void {
    const slot = this.open.get(socket);
    if (!slot) return;
    slot.requests = Math.max(0, slot.requests - 1);
    this.idle(socket);
  }

  /** Closes every connection. */
  closeAll(): void {
    for (const socket of [...this.open.keys()]) this.close(socket);
  }

  private idle(socket: Socket): void {
    const slot = this.open.get(socket);
    if (!slot || slot.requests > 0 || slot.idle) return;
    slot.idle = { since: this.timers.now(), timer: this.timers.set(() => this.close(socket), this.idleMs) };
  }

  private idlest(): Socket | undefined {
    let found: { socket: Socket; since: number } | undefined;
    for (const [socket, { idle }] of this.open) {
      if (idle && (!found || idle.since < found.since)) found = { socket, since: idle.since };
    }
    return found?.socket;
  }

  private close(socket: Socket): void {
    this.release(socket);
    socket.destroy();
  }

  private release(socket: Socket): void {
    const slot = this.open.get(socket);
    if (!slot) return;
    if (slot.idle) this.timers.clear(slot.idle.timer);
    this.open.delete(socket);
  }
}
