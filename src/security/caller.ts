/**
 * Who sent a request: the client's address and, over mutual TLS, the identities of its certificate.
 * Known per connection; what the per-topic producer lists and the trusted Chronos senders match.
 */
import { canonicalAddress, isSubnet, NetworkList } from './networks';
import { isIdentity } from './identities';

export interface Caller {
  /** The client's IP address (an IPv4-mapped IPv6 address as its IPv4 address). */
  readonly address: string;
  /** See identities.ts; empty without a client certificate. */
  readonly identities: readonly string[];
  /** Only PROXY_ITSELF. */
  readonly internal?: true;
}

export function callerOf(address: string | undefined, identities: readonly string[]): Caller {
  return { address: canonicalAddress(address ?? ''), identities };
}

/** Whether an entry of a sender list is valid: a CIDR, an address, or an identity. */
export function isSenderEntry(text: string): boolean {
  return isSubnet(text) || isIdentity(text);
}

/** Callers matched by any of their networks (CIDRs, addresses) or identities. */
export class SenderList {
  private readonly networks: NetworkList;
  private readonly identities: ReadonlySet<string>;

  constructor(entries: readonly string[]) {
    this.networks = new NetworkList(entries.filter((e) => !isIdentity(e)));
    this.identities = new Set(entries.filter(isIdentity));
  }

  includes(caller: Caller): boolean {
    if (caller.internal) return true;
    if (caller.identities.some((id) => this.identities.has(id))) return true;
    return this.networks.size > 0 && this.networks.includes(caller.address);
  }
}

/** Callers matched by one of their identities (a topic's allowed producers). */
export function hasIdentity(caller: Caller, allowed: ReadonlySet<string>): boolean {
  return caller.internal === true || caller.identities.some((id) => allowed.has(id));
}

/**
 * The proxy itself: local Chronos re-delivering what it accepted. Trusted as a Chronos sender, and
 * allowed on every topic (its sends were authorised when the client's sendDelaySync was accepted).
 */
export const PROXY_ITSELF: Caller = { address: '', identities: [], internal: true };
