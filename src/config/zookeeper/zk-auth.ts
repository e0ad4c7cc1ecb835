/**
 * ZooKeeper digest credentials as the configuration and `pproxy zk` take them, apart from the
 * ZooKeeper client so that reading a configuration does not load it.
 */

/** ZooKeeper digest credentials. */
export interface ZkAuth {
  readonly user: string;
  readonly password: string;
}

/** `user:password` (the password may hold colons); throws with what is wrong, never echoing the password. */
export function parseZkAuth(text: string): ZkAuth {
  const problem = zkAuthProblem(text);
  if (problem) throw new Error(problem);
  const colon = text.indexOf(':');
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** Why `text` is not `user:password`, or undefined. */
export function zkAuthProblem(text: string): string | undefined {
  const colon = text.indexOf(':');
  return colon <= 0 || colon === text.length - 1 ? 'ZooKeeper credentials must be user:password, both non-empty' : undefined;
}

/** PPROXY_ZK_AUTH (`user:password`), the credentials `pproxy zk` writes with: kept off the command line, which `ps` shows. */
export function zkAuthFromEnv(env: NodeJS.ProcessEnv = process.env): ZkAuth | undefined {
  const text = env['PPROXY_ZK_AUTH'];
  if (text === undefined || text === '') return undefined;
  try {
    return parseZkAuth(text);
  } catch (err) {
    throw new Error(`PPROXY_ZK_AUTH: ${(err as Error).message}`);
  }
}
