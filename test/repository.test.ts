/**
 * The repository stands on its own: what the code relies on of DDMQ's behaviour is in docs/ddmq/,
 * and every docs/ path a source comment cites exists.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { REPO_ROOT } from './helpers/proxy';

const SOURCE_DIRS = ['src', 'bench', 'test', 'scripts', 'docs'];
const TEXT = /\.(ts|js|sh|py|md)$/;

function files(dir: string): string[] {
  const root = path.join(REPO_ROOT, dir);
  return fs.readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((name) => TEXT.test(name))
    .map((name) => path.join(dir, name));
}

const sources = [...SOURCE_DIRS.flatMap(files), 'README.md'];

test('no file cites notes kept outside the repository', () => {
  // spelled in pieces so that this file does not cite them itself
  const outside = new RegExp(['\\.\\./shared', 'reference' + ' section', 'test-peers' + '\\.md', 'ddmq-pproxy' + '\\.md'].join('|'));
  const citing = sources.filter((file) => outside.test(fs.readFileSync(path.join(REPO_ROOT, file), 'utf8')));
  assert.deepEqual(citing, []);
});

test('every docs/ddmq page a source file cites exists, and the docs index lists every page', () => {
  const cited = new Set<string>();
  for (const file of sources) {
    for (const m of fs.readFileSync(path.join(REPO_ROOT, file), 'utf8').matchAll(/docs\/ddmq\/([a-z-]+\.md)/g)) cited.add(m[1]!);
  }
  assert.ok(cited.size >= 5, `docs/ddmq cited: ${[...cited].join(', ')}`);
  const pages = fs.readdirSync(path.join(REPO_ROOT, 'docs/ddmq')).filter((name) => name.endsWith('.md'));
  for (const page of cited) assert.ok(pages.includes(page), `docs/ddmq/${page} is cited but missing`);
  const index = fs.readFileSync(path.join(REPO_ROOT, 'docs/ddmq/README.md'), 'utf8');
  for (const page of pages.filter((p) => p !== 'README.md')) assert.match(index, new RegExp(`\\(${page.replace('.', '\\.')}\\)`), `index lists ${page}`);
});
