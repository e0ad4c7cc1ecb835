/**
 * Where the real brokers' jars are: scripts/fetch-test-peers.sh copies each test/peers/<name>/pom.xml's
 * server and its run-time dependencies from Maven Central into test/peers/<name>/target/lib, and
 * marks a complete copy with a .fetched file.
 */
import fs from 'node:fs';
import path from 'node:path';

/** The checkout's root, from dist/bench/peers/ where this module runs. */
export const REPO_ROOT = path.resolve(__dirname, '../../..');

export const FETCH_SCRIPT = 'scripts/fetch-test-peers.sh';

/** A peer's jars are not there: the message names the script that fetches them. */
export class PeerJarsMissing extends Error {
  override name = 'PeerJarsMissing';
}

export function peerLibDir(peer: string, root = REPO_ROOT): string {
  return path.join(root, 'test/peers', peer, 'target/lib');
}

/** The directory of a peer's jars; throws PeerJarsMissing when the fetch did not complete there. */
export function peerJars(peer: string, what: string, root = REPO_ROOT): string {
  const dir = peerLibDir(peer, root);
  if (!fs.existsSync(path.join(dir, '.fetched'))) throw new PeerJarsMissing(`${what}'s jars are missing from ${dir}: run ${FETCH_SCRIPT}`);
  return dir;
}
