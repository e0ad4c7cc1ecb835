/**
 * pproxy's NATS JetStream storage: clusters of kind `jetstream`, configured under carrera.yaml's
 * `jetstreamConfigurationMap` (README.md beside this package lists the settings and the mapping).
 */
import type { StoragePlugin } from 'pproxy/storage';
import { jetStreamConfigSchema, type JetStreamConfig } from './config';
import { JetStreamStorage } from './jetstream-storage';

const { version } = require('../package.json') as { version: string };

export const storagePlugin: StoragePlugin<JetStreamConfig> = {
  apiVersion: 1,
  kind: 'jetstream',
  version,
  configSchema: (tools) => jetStreamConfigSchema(tools),
  create: (config, context) => new JetStreamStorage(config, context),
};
