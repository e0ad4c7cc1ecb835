/**
 * Loads carrera.yaml once, at start: parse, validate against the schema, check cross-field rules,
 * resolve paths. Any problem is a ConfigError whose message names the file, the field and the fault.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import type { z } from 'zod';
import { localTopicProblems, pproxyConfigProblems } from './problems';
import { parseZkAuth, type ZkAuth } from './zookeeper/zk-auth';
import { configSchemas, storagePluginsSchema, type ClusterType, type PProxyConfig, type TopicConfig } from './schema';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export interface ProxySettings {
  readonly configPath: string;
  readonly zookeeperAddr: string | undefined;
  readonly zookeeperConnectTimeoutMs: number;
  /** Digest credentials for ZooKeeper (zookeeperAuth), if any. */
  readonly zookeeperAuth: ZkAuth | undefined;
  /** IP half of the identity. */
  readonly host: string;
  readonly port: number;
  readonly bindAddress: string;
  /** carrera.yaml's thriftServer section, its files resolved against the file's directory. */
  readonly listener: ListenerSettings;
  /** 0: no admin listener and no metrics. */
  readonly adminPort: number;
  readonly adminBindAddress: string;
  readonly dataDir: string;
  readonly logDir: string;
  readonly logLevel: string;
  readonly drainTimeoutMs: number;
  readonly drainDelayMs: number;
  /** Local mode (no zookeeperAddr): the proxy config and its topics, both from this file. */
  readonly local: { readonly pproxy: PProxyConfig; readonly topics: readonly TopicConfig[] } | undefined;
  /** The cluster types this file was read with (the storage plugins loaded). */
  readonly clusterTypes: readonly ClusterType[];
}

export interface ListenerTlsSettings {
  readonly certFile: string;
  readonly keyFile: string;
  readonly clientCaFile: string | undefined;
  readonly allowedSubjects: readonly string[] | undefined;
  readonly handshakeTimeoutMs: number;
}

export interface ListenerSettings {
  /** undefined: plain TCP. */
  readonly tls: ListenerTlsSettings | undefined;
  /** undefined: every client network. */
  readonly allowedClients: readonly string[] | undefined;
}

/** The storage plugins carrera.yaml lists (`storagePlugins`), read before the rest, which depends on them. */
export interface StoragePluginList {
  readonly configPath: string;
  /** Module paths (relative to the file's directory) or package names, as written. */
  readonly modules: readonly string[];
}

export function readStoragePluginList(configPath: string): StoragePluginList {
  const file = path.resolve(configPath);
  const raw = readYaml(file);
  const listed = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>)['storagePlugins'] : undefined;
  const parsed = storagePluginsSchema.safeParse(listed);
  if (!parsed.success) throw new ConfigError(describeIssues(file, parsed.error.issues.map((i) => ({ ...i, path: ['storagePlugins', ...i.path] }))));
  return { configPath: file, modules: parsed.data };
}

function readYaml(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${file}: cannot read: ${(err as Error).message}`);
  }
  try {
    return YAML.parse(text, { prettyErrors: true }) ?? {};
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message}`);
  }
}

/** Reads carrera.yaml with the cluster types of the storage plugins loaded (storage/plugin-loader.ts). */
export function loadSettings(configPath: string, clusterTypes: readonly ClusterType[]): ProxySettings {
  const file = path.resolve(configPath);
  const raw = readYaml(file);
  const parsed = configSchemas(clusterTypes).carreraYaml.safeParse(raw);
  if (!parsed.success) throw new ConfigError(describeIssues(file, parsed.error.issues));
  const yaml = parsed.data;

  let local: ProxySettings['local'];
  if (yaml.zookeeperAddr === undefined) {
    if (!yaml.pproxy) {
      throw new ConfigError(`${file}: pproxy: required in local mode (there is no zookeeperAddr to read it from)`);
    }
    const topics = mergeTopics(
      yaml.defaultTopicInfoConf?.topics ?? [],
      yaml.pproxy.carreraConfiguration.defaultTopicInfoConf?.topics ?? [],
    );
    const problems = [
      ...pproxyConfigProblems(yaml.pproxy, 'pproxy', clusterTypes),
      ...localTopicProblems(yaml.pproxy, topics, 'defaultTopicInfoConf.topics'),
    ];
    if (problems.length > 0) throw new ConfigError(problems.map((p) => `${file}: ${p}`).join('\n'));
    local = { pproxy: yaml.pproxy, topics };
  }

  const baseDir = path.dirname(file);
  const tls = yaml.thriftServer.tls;
  const listener: ListenerSettings = {
    tls: tls && {
      certFile: path.resolve(baseDir, tls.cert),
      keyFile: path.resolve(baseDir, tls.key),
      clientCaFile: tls.clientCa === undefined ? undefined : path.resolve(baseDir, tls.clientCa),
      allowedSubjects: tls.allowedSubjects,
      handshakeTimeoutMs: tls.handshakeTimeoutMs,
    },
    allowedClients: yaml.thriftServer.allowedClients,
  };
  return {
    configPath: file,
    zookeeperAddr: yaml.zookeeperAddr,
    zookeeperConnectTimeoutMs: yaml.zookeeperConnectTimeoutMs,
    zookeeperAuth: yaml.zookeeperAuth && parseZkAuth(yaml.zookeeperAuth.reveal()),
    host: yaml.host?.trim() || firstNonLoopbackIPv4(),
    port: yaml.port,
    bindAddress: yaml.bindAddress,
    listener,
    adminPort: yaml.adminPort,
    adminBindAddress: yaml.adminBindAddress,
    dataDir: path.resolve(baseDir, yaml.dataDir),
    logDir: path.resolve(baseDir, yaml.logDir),
    logLevel: yaml.logLevel,
    drainTimeoutMs: yaml.drainTimeoutMs,
    drainDelayMs: yaml.drainDelayMs,
    local,
    clusterTypes,
  };
}

/** Later definitions of a topic replace earlier ones, as DDMQ's static-topic loading does. */
function mergeTopics(...lists: (readonly TopicConfig[])[]): TopicConfig[] {
  const byName = new Map<string, TopicConfig>();
  const duplicates: TopicConfig[] = [];
  for (const list of lists) {
    const inList = new Set<string>();
    for (const t of list) {
      // a name repeated within one list is a mistake; keep both so the checks report it
      if (inList.has(t.topic)) duplicates.push(t);
      inList.add(t.topic);
      byName.set(t.topic, t);
    }
  }
  return [...byName.values(), ...duplicates];
}

export function describeIssues(file: string, issues: readonly z.core.$ZodIssue[]): string {
  return issues.map((issue) => `${file}: ${formatPath(issue.path) || '(top level)'}: ${issue.message}`).join('\n');
}

function formatPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else out += out ? `.${String(s)}` : String(s);
  }
  return out;
}

/** DDMQ's CommonUtils.getHostAddress: the first non-loopback IPv4 of the NICs. */
function firstNonLoopbackIPv4(): string {
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const a of addresses ?? []) {
      if (a.family === 'IPv4' && !a.internal) return a.address;
    }
  }
  return '127.0.0.1';
}
