/**
 * Reads Prometheus' text exposition format, the subset prom-client writes: `# HELP` and `# TYPE`
 * lines, and samples `name{label="value",...} value [timestamp]` with label values escaped as the
 * format says (\\, \", \n). npm's parse-prometheus-text-format drops the labels of labelled
 * histograms, which is what `pproxy top` reads most, so this small reader is the proxy's own.
 */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const NAME = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const LABEL_NAME = /[a-zA-Z_][a-zA-Z0-9_]*/y;

export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  let lineNumber = 0;
  for (const raw of text.split('\n')) {
    lineNumber++;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    try {
      samples.push(parseSample(line));
    } catch (err) {
      throw new Error(`metrics line ${lineNumber}: ${(err as Error).message}: ${line.slice(0, 120)}`);
    }
  }
  return samples;
}

function parseSample(line: string): Sample {
  let at = 0;
  const name = match(NAME, line, at, 'a metric name');
  at += name.length;
  const labels: Record<string, string> = {};
  if (line[at] === '{') {
    at++;
    for (;;) {
      at = skipSpaces(line, at);
      if (line[at] === '}') break;
      const label = match(LABEL_NAME, line, at, 'a label name');
      at = skipSpaces(line, at + label.length);
      if (line[at] !== '=' || line[at + 1] !== '"') throw new Error(`expected =" after ${label}`);
      const [value, end] = quoted(line, at + 2);
      labels[label] = value;
      at = skipSpaces(line, end);
      if (line[at] === ',') at++;
      else if (line[at] !== '}') throw new Error('expected , or } in labels');
    }
    at++;
  }
  const [valueText] = line.slice(at).trim().split(/\s+/);
  const value = number(valueText ?? '');
  return { name, labels, value };
}

function match(pattern: RegExp, line: string, at: number, what: string): string {
  pattern.lastIndex = at;
  const m = pattern.exec(line);
  if (!m) throw new Error(`expected ${what} at column ${at + 1}`);
  return m[0];
}

function skipSpaces(line: string, at: number): number {
  while (line[at] === ' ' || line[at] === '\t') at++;
  return at;
}

/** A label value from after its opening quote: the value unescaped, and the index after its closing quote. */
function quoted(line: string, at: number): [string, number] {
  let value = '';
  for (let i = at; i < line.length; i++) {
    const c = line[i]!;
    if (c === '"') return [value, i + 1];
    if (c === '\\') {
      const next = line[++i];
      value += next === 'n' ? '\n' : (next ?? '');
    } else value += c;
  }
  throw new Error('unterminated label value');
}

/** A sample value; Inf and NaN in any case, as Prometheus reads them (prom-client writes `Nan`). */
function number(text: string): number {
  const word = text.toLowerCase();
  if (word === '+inf' || word === 'inf') return Infinity;
  if (word === '-inf') return -Infinity;
  if (word === 'nan') return NaN;
  const n = Number(text);
  if (text === '' || Number.isNaN(n)) throw new Error(`not a sample value: "${text}"`);
  return n;
}
