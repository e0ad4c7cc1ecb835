/**
 * A client's identities, from the certificate it presented over mutual TLS, each written with its
 * kind: `CN:<subject common name>`, and one per subject alternative name, `DNS:<name>`,
 * `URI:<uri>` (a SPIFFE ID, for instance), `email:<address>`, `IP:<address>`. The kind is part of
 * the identity so that a name vouched for as one kind never passes for another: a certificate
 * whose DNS name is `billing` is not the client whose common name is `billing`.
 */
import type { PeerCertificate } from 'node:tls';

const KINDS = ['CN', 'DNS', 'URI', 'email', 'IP'] as const;

/** Node's names of the alternative-name kinds, as `subjectaltname` spells them. */
const SAN_KINDS: Record<string, string> = { DNS: 'DNS', URI: 'URI', email: 'email', 'IP Address': 'IP' };

/** Whether `text` is an identity as configuration writes one (`CN:orders`, `DNS:orders.example`). */
export function isIdentity(text: string): boolean {
  const colon = text.indexOf(':');
  return colon > 0 && colon < text.length - 1 && (KINDS as readonly string[]).includes(text.slice(0, colon));
}

/** The identities a peer certificate vouches for; none for no certificate. */
export function certificateIdentities(cert: PeerCertificate | undefined): string[] {
  if (!cert || Object.keys(cert).length === 0) return [];
  const identities: string[] = [];
  // a subject with several common names has them as an array
  const cn = cert.subject?.CN as string | string[] | undefined;
  for (const name of cn === undefined ? [] : Array.isArray(cn) ? cn : [cn]) identities.push(`CN:${name}`);
  for (const [kind, value] of alternativeNames(cert.subjectaltname ?? '')) {
    const ours = SAN_KINDS[kind];
    if (ours) identities.push(`${ours}:${value}`);
  }
  return identities;
}

/**
 * Splits Node's `subjectaltname` ("DNS:a, URI:b, IP Address:1.2.3.4"). A value with a comma or a
 * quote in it comes as a JSON string literal (`DNS:"a, b"`), which is read as one.
 */
export function alternativeNames(text: string): [string, string][] {
  const names: [string, string][] = [];
  let at = 0;
  while (at < text.length) {
    const colon = text.indexOf(':', at);
    if (colon < 0) break;
    const kind = text.slice(at, colon);
    let value: string;
    let end: number;
    if (text[colon + 1] === '"') {
      end = colon + 2;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      end++;
      try {
        value = JSON.parse(text.slice(colon + 1, end)) as string;
      } catch {
        break;
      }
    } else {
      end = text.indexOf(', ', colon);
      if (end < 0) end = text.length;
      value = text.slice(colon + 1, end);
    }
    names.push([kind, value]);
    at = text.startsWith(', ', end) ? end + 2 : end;
  }
  return names;
}
