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
  const colon = text.indexOf(':');
  if (colon <= 0 || colon === text.length - 1) throw new Error('ZooKeeper credentials must be user:password, both non-empty');
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}
