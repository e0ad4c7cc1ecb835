/**
 * docs/metrics.md names every metric the proxy registers and no other, with the catalog's type,
 * labels and help: a metric added, renamed or relabelled without regenerating the doc fails here.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { catalogEntries, METRICS_DOC, renderTable, tableInDoc } from './metrics-reference';

test('the metric table of docs/metrics.md is the one the catalog renders', async () => {
  const entries = await catalogEntries();
  const written = tableInDoc(readFileSync(METRICS_DOC, 'utf8'));
  const documented = [...written.matchAll(/^\| `([a-zA-Z_:][a-zA-Z0-9_:]*)` \|/gm)].map((m) => m[1]!);
  const registered = entries.map((e) => e.name);
  assert.deepEqual(
    { undocumented: registered.filter((n) => !documented.includes(n)), notExported: documented.filter((n) => !registered.includes(n)) },
    { undocumented: [], notExported: [] },
    'run `npm run build && node dist/test/docs/metrics-reference.js` to regenerate the table',
  );
  assert.equal(written, renderTable(entries), 'types, labels or help differ: regenerate the table (node dist/test/docs/metrics-reference.js)');
});

test('the table renders each metric with its type and label names', () => {
  const table = renderTable([
    { name: 'pproxy_x_total', type: 'counter', labels: ['topic', 'code'], help: 'X | Y.' },
    { name: 'pproxy_y', type: 'gauge', labels: [], help: 'Y.' },
  ]);
  assert.match(table, /^\| `pproxy_x_total` \| counter \| `topic`, `code` \| X \\\| Y\. \|$/m);
  assert.match(table, /^\| `pproxy_y` \| gauge \|  \| Y\. \|$/m);
});
