/** Open connections per client address, for `maxConnectionsPerClient`. */
export class ClientConnections {
  private readonly open = new Map<string, number>();

  count(address: string): number {
    return this.open.get(address) ?? 0;
  }

  add(address: string): void {
    this.open.set(address, this.count(address) + 1);
  }

  remove(address: string): void {
    const n = this.count(address) - 1;
    if (n > 0) this.open.set(address, n);
    else this.open.delete(address);
  }
}
