/** pproxy's release, as package.json states it (the built-in storage plugins carry it too). */
import fs from 'node:fs';
import path from 'node:path';

export const PPROXY_VERSION: string = (
  JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8')) as { version: string }
).version;
