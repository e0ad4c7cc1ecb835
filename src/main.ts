/**
 * Proxy entry point: `node dist/src/main.js [path/to/carrera.yaml] [--foreground]`, started by
 * bin/pproxy-server, which gives node the proxy's V8 flags.
 * The config path defaults to the carrera.yaml next to package.json, as DDMQ's main class takes
 * conf/carrera.yaml. Exit codes: 0 after a clean stop, 1 on a bad configuration, 2 when the proxy
 * cannot start (Thrift or admin port taken, storage unusable), 3 after a fatal error at run time.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ProxyApp, type ProxyStatus } from './app';
import { ConfigError } from './config/load';
import { loadNodeConfiguration, type NodeConfiguration } from './node-configuration';
import { StoragePluginError } from './storage/storage-registry';
import { createLogger } from './log';

const EXIT_CONFIG = 1;
const EXIT_START = 2;
const EXIT_FATAL = 3;

async function main(argv: string[]): Promise<void> {
  const foreground = argv.includes('--foreground');
  const configPath = argv.find((a) => !a.startsWith('--')) ?? path.resolve(__dirname, '../../carrera.yaml');

  let node: NodeConfiguration;
  try {
    node = loadNodeConfiguration(configPath);
  } catch (err) {
    process.stderr.write(`pproxy: invalid configuration\n${(err as Error).message}\n`);
    process.exit(isConfigurationError(err) ? EXIT_CONFIG : EXIT_START);
  }
  const { settings } = node;

  const log = createLogger({ dir: foreground ? undefined : settings.logDir, level: settings.logLevel });
  const logger = log.logger;
  const exit = (code: number) => {
    log.flush();
    process.exit(code);
  };

  let app: ProxyApp;
  try {
    app = await ProxyApp.start(node, logger, { onStatus: statusWriter(process.env['PPROXY_STATUS_FILE']) });
  } catch (err) {
    logger.fatal({ err }, 'pproxy failed to start');
    process.stderr.write(`pproxy: failed to start: ${(err as Error).message}\n`);
    // a plugin that cannot make its storage is a deployment mistake, as a bad file is
    exit(isConfigurationError(err) ? EXIT_CONFIG : EXIT_START);
    return;
  }
  const stop = (signal: string) => {
    logger.info({ signal }, 'stop requested');
    app.stop().then(
      () => exit(0),
      (err: unknown) => {
        logger.fatal({ err }, 'stop failed');
        exit(EXIT_FATAL);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // SIGHUP: reopen the log file (logrotate) and apply the configuration file again
  process.on('SIGHUP', () => {
    log.reopen();
    void app.reload();
  });
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception');
    exit(EXIT_FATAL);
  });
  process.on('unhandledRejection', (err) => {
    logger.fatal({ err }, 'unhandled rejection');
    exit(EXIT_FATAL);
  });
  // Announced only once the signal handlers are in place: control.sh and tests act on this line.
  const address = app.address();
  const admin = app.adminAddress();
  process.stdout.write(
    `pproxy ${app.instance} listening on ${address.address}:${address.port} (config ${settings.configPath})${admin ? `, admin on http://${admin}` : ''}\n`,
  );
}

/** A bad file or plugin, anywhere in the error's causes. */
function isConfigurationError(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) {
    if (e instanceof ConfigError || e instanceof StoragePluginError) return true;
  }
  return false;
}

/**
 * Writes the status where control.sh reads it (PPROXY_STATUS_FILE), atomically. Without the
 * variable, nothing is written.
 */
function statusWriter(file: string | undefined): ((status: ProxyStatus) => void) | undefined {
  if (!file) return undefined;
  return (status) => {
    const temp = `${file}.tmp`;
    fs.writeFileSync(temp, `${JSON.stringify(status)}\n`);
    fs.renameSync(temp, file);
  };
}

void main(process.argv.slice(2));
