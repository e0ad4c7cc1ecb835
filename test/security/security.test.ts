/**
 * The pure parts of the listener's security: networks (CIDRs, IPv4-mapped addresses), certificate
 * identities (subjectaltname as Node writes it), sender lists, and what the schema refuses.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PeerCertificate } from 'node:tls';
import { listenerSchema, topicSchemas } from '../../src/config/schema';
import { callerOf, isSenderEntry, PROXY_ITSELF, SenderList } from '../../src/security/caller';
import { alternativeNames, certificateIdentities, isIdentity } from '../../src/security/identities';
import { canonicalAddress, NetworkList, parseSubnet } from '../../src/security/networks';

test('networks: IPv4 and IPv6 CIDRs and single addresses; IPv4-mapped addresses and entries match as IPv4', () => {
  const list = new NetworkList(['10.0.0.0/8', '192.168.1.7', '2001:db8::/32', '::ffff:172.16.0.0/108']);
  const inside = ['10.255.0.1', '::ffff:10.1.2.3', '192.168.1.7', '2001:db8:1::5', '172.16.3.4', '::FFFF:172.16.0.1'];
  const outside = ['11.0.0.1', '192.168.1.8', '2001:db9::1', '172.32.0.1', '::1', '', 'not an address'];
  assert.deepEqual(inside.filter((a) => !list.includes(a)), []);
  assert.deepEqual(outside.filter((a) => list.includes(a)), []);
  assert.equal(canonicalAddress('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(canonicalAddress('::1'), '::1');
});

test('networks: malformed entries are refused with the reason', () => {
  for (const [text, reason] of [
    ['10.0.0.0/33', /prefix length must be 0 to 32/],
    ['::/129', /0 to 128/],
    ['::ffff:10.0.0.0/95', /96 to 128/],
    ['10.0.0/8', /not an IP address/],
    ['10.0.0.0/x', /must be a number/],
    ['host.example', /not an IP address/],
  ] as const) {
    const parsed = parseSubnet(text);
    assert.equal(typeof parsed, 'string', text);
    assert.match(parsed as string, reason);
  }
  assert.deepEqual(parseSubnet('::ffff:10.0.0.0/104'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
});

test('identities: the subject CN and each alternative name, with its kind; quoted values read whole', () => {
  const cert = {
    subject: { CN: 'orders-app' },
    subjectaltname: 'DNS:orders.example, URI:spiffe://prod/orders, email:ops@example.com, IP Address:10.0.0.1, DNS:"a, b", DirName:"CN=x"',
  } as unknown as PeerCertificate;
  assert.deepEqual(certificateIdentities(cert), ['CN:orders-app', 'DNS:orders.example', 'URI:spiffe://prod/orders', 'email:ops@example.com', 'IP:10.0.0.1', 'DNS:a, b']);
  assert.deepEqual(certificateIdentities({ subject: { CN: ['a', 'b'] } } as unknown as PeerCertificate), ['CN:a', 'CN:b']);
  assert.deepEqual(certificateIdentities({} as PeerCertificate), [], 'no certificate');
  assert.deepEqual(alternativeNames('URI:"x\\"y", DNS:z'), [['URI', 'x"y'], ['DNS', 'z']]);
  assert.deepEqual(['CN:a', 'DNS:b', 'URI:c', 'email:d', 'IP:e'].map(isIdentity), [true, true, true, true, true]);
  assert.deepEqual(['a', 'cn:a', 'CN:', ':a', '::1', '2001:db8::/32', 'dns:x'].map(isIdentity), [false, false, false, false, false, false, false]);
});

test('sender lists: by network or by identity; the proxy itself always; nothing else', () => {
  const list = new SenderList(['::1', '10.0.0.0/8', 'CN:chronos']);
  assert.equal(list.includes(callerOf('::1', [])), true);
  assert.equal(list.includes(callerOf('::ffff:10.9.9.9', [])), true);
  assert.equal(list.includes(callerOf('127.0.0.1', ['CN:chronos'])), true);
  assert.equal(list.includes(callerOf('127.0.0.1', ['DNS:chronos', 'CN:other'])), false);
  assert.equal(list.includes(PROXY_ITSELF), true);
  assert.equal(new SenderList(['CN:chronos']).includes(callerOf('127.0.0.1', [])), false, 'an identity list matches no address');
  assert.deepEqual(['::1', '10.0.0.0/8', 'DNS:x', 'x', 'cn=x'].map(isSenderEntry), [true, true, true, false, false]);
});

test('schema: allowedSubjects needs clientCa; bad CIDRs and identities are refused where they are', () => {
  const refused = (result: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }) =>
    result.success ? [] : result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  assert.deepEqual(refused(listenerSchema.safeParse({ tls: { cert: 'c', key: 'k', allowedSubjects: ['CN:a'] } })), ['tls.allowedSubjects: needs clientCa: without mutual TLS a client presents no certificate']);
  assert.deepEqual(refused(listenerSchema.safeParse({ allowedClients: ['10.0.0.0/8', '300.0.0.1'] })), ['allowedClients.1: "300.0.0.1" is not an IP address or CIDR']);
  assert.deepEqual(refused(listenerSchema.safeParse({ tls: { cert: 'c', key: 'k', clientCa: 'ca', allowedSubjects: ['CN:a'] }, allowedClients: ['::1'] })), []);
  const topic = { topic: 't', topicUnits: [{ brokerCluster: 'C' }] };
  assert.equal(refused(topicSchemas.strict.safeParse({ ...topic, allowedProducers: ['orders'] })).length, 1);
  assert.deepEqual(refused(topicSchemas.loose.safeParse({ ...topic, allowedProducers: ['CN:orders'] })), []);
});
