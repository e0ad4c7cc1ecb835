/**
 * Client networks as CIDRs (`10.0.0.0/8`, `2001:db8::/32`) or single addresses, IPv4 and IPv6, on
 * Node's BlockList. An IPv4-mapped IPv6 address (`::ffff:10.1.2.3`, what a dual-stack listener
 * reports for an IPv4 client) is matched as the IPv4 address it carries, and so is an entry written
 * that way: the same client is one address whichever socket family it arrived on.
 */
import net from 'node:net';

interface Subnet {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

const MAPPED_PREFIX = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/** The address as matched: an IPv4-mapped IPv6 address as its IPv4 address. */
export function canonicalAddress(address: string): string {
  const mapped = MAPPED_PREFIX.exec(address);
  return mapped ? mapped[1]! : address;
}

/** The subnet a CIDR or address names, or why it names none. */
export function parseSubnet(text: string): Subnet | string {
  const slash = text.indexOf('/');
  const rawAddress = slash < 0 ? text : text.slice(0, slash);
  const rawPrefix = slash < 0 ? undefined : text.slice(slash + 1);
  const mapped = MAPPED_PREFIX.exec(rawAddress);
  const address = mapped ? mapped[1]! : rawAddress;
  const version = net.isIP(address);
  if (version === 0) return `"${text}" is not an IP address or CIDR`;
  const bits = version === 4 ? 32 : 128;
  let prefix = bits;
  if (rawPrefix !== undefined) {
    if (!/^\d{1,3}$/.test(rawPrefix)) return `"${text}": the prefix length must be a number`;
    prefix = Number(rawPrefix) - (mapped ? 96 : 0);
    if (prefix < 0 || prefix > bits) return `"${text}": the prefix length must be ${mapped ? '96' : '0'} to ${mapped ? 128 : bits}`;
  }
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

export function isSubnet(text: string): boolean {
  return typeof parseSubnet(text) !== 'string';
}

export class NetworkList {
  private readonly list = new net.BlockList();
  readonly size: number;

  /** `subnets` must be valid (parseSubnet); the schema checks them. */
  constructor(subnets: readonly string[]) {
    for (const text of subnets) {
      const subnet = parseSubnet(text);
      if (typeof subnet === 'string') throw new Error(subnet);
      this.list.addSubnet(subnet.address, subnet.prefix, subnet.family);
    }
    this.size = subnets.length;
  }

  includes(address: string): boolean {
    const canonical = canonicalAddress(address);
    const version = net.isIP(canonical);
    if (version === 0) return false;
    return this.list.check(canonical, version === 4 ? 'ipv4' : 'ipv6');
  }
}
