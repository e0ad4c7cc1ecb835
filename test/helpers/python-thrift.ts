/**
 * Apache Thrift's Python library (Debian python3-thrift) as a test client: stubs generated from
 * idl/producer.thrift by the Thrift compiler, run by test/fixtures/python_client.py.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { tempDir } from './config';
import { REPO_ROOT } from './proxy';

/** Debian's interpreter: the first python3 on PATH may be another one without the thrift module. */
export const PYTHON = '/usr/bin/python3';
export const PYTHON_CLIENT = path.join(REPO_ROOT, 'test/fixtures/python_client.py');

export function generatePythonStubs(t: TestContext): string {
  const out = tempDir(t, 'pproxy-py-');
  const gen = spawnSync('thrift', ['--gen', 'py', '-out', out, path.join(REPO_ROOT, 'idl/producer.thrift')], { encoding: 'utf8' });
  assert.equal(gen.status, 0, `thrift --gen py failed (is thrift-compiler installed?): ${gen.stderr ?? gen.error}`);
  assert.ok(fs.existsSync(path.join(out, 'carrera_producer', 'ProducerService.py')));
  return out;
}
