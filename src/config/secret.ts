/**
 * Secret settings (a broker password, a key): given literally or as a reference, `${env:NAME}` (an
 * environment variable of the process reading the configuration) or `${file:/path}` (the file's
 * content, its trailing newline trimmed), resolved when the configuration is read. A reference that
 * cannot be resolved refuses the configuration naming the field and the reference, never a value.
 *
 * The parsed value is a Secret: it prints as `[secret]` (toString, JSON, util.inspect), so a whole
 * configuration can be logged, shown on /status or put in an error message without it. JSON keeps a
 * reference as the reference, so what `pproxy zk` writes back is `${env:NAME}`, never the value.
 */
import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { inspect } from 'node:util';
import { z } from 'zod';
import type { Secret } from '../storage/plugin-api';

const SHOWN = '[secret]';
const REFERENCE = /^\$\{(env|file):([^}]+)\}$/;

class SecretValue implements Secret {
  readonly #value: string;

  constructor(
    value: string,
    /** The `${env:..}` / `${file:..}` text it was given as; undefined for a literal. */
    readonly reference: string | undefined,
  ) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return SHOWN;
  }

  toJSON(): string {
    return this.reference ?? SHOWN;
  }

  [inspect.custom](): string {
    return SHOWN;
  }
}

/** A Secret from its configured text, or why the reference in it cannot be resolved. */
export function resolveSecret(text: string, env: NodeJS.ProcessEnv = process.env): Secret | { problem: string } {
  const reference = REFERENCE.exec(text);
  if (!reference) return new SecretValue(text, undefined);
  const [, scheme, name] = reference as unknown as [string, 'env' | 'file', string];
  if (scheme === 'env') {
    const value = env[name];
    if (value === undefined) return { problem: `${text}: environment variable ${name} is not set` };
    return new SecretValue(value, text);
  }
  try {
    return new SecretValue(fs.readFileSync(name, 'utf8').replace(/\r?\n$/, ''), text);
  } catch (error) {
    return { problem: `${text}: cannot read ${name} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})` };
  }
}

/** Every secret in `value` (a parsed configuration), with its path (`a.b.0.c`). */
export function secretsIn(value: unknown, at: readonly string[] = []): [path: string, secret: Secret][] {
  if (value instanceof SecretValue) return [[at.join('.'), value]];
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([key, item]) => secretsIn(item, [...at, key]));
}

/** This process's key for secretFingerprints: a fingerprint means nothing outside it. */
const FINGERPRINT_KEY = randomBytes(32);

/**
 * Where `value` (a parsed configuration) holds secrets, each with a keyed hash of its value. A
 * cluster whose only change is a secret's value (a new password in ZooKeeper, or the same
 * `${file:..}` reference to a file that now says something else) serialises as before, `[secret]`
 * or the reference, yet must be rebuilt; its rebuild key carries these so that it is.
 */
export function secretFingerprints(value: unknown): string {
  return secretsIn(value)
    .map(([at, found]) => `${at}=${createHmac('sha256', FINGERPRINT_KEY).update(found.reveal()).digest('base64url')}`)
    .join('\n');
}

/**
 * A secret field: a string, literal or reference, whose resolved value must pass `field` (default:
 * not empty); its output is a Secret. zod's own message for a failed `field` check never quotes
 * the value it checked.
 */
export function secret(field: z.ZodType<string> = z.string().min(1, 'must not be empty')): z.ZodType<Secret, string> {
  return z.string().transform((text, ctx) => {
    const resolved = resolveSecret(text);
    if (!(resolved instanceof SecretValue)) {
      ctx.addIssue({ code: 'custom', message: (resolved as { problem: string }).problem });
      return z.NEVER;
    }
    const checked = field.safeParse(resolved.reveal());
    if (!checked.success) {
      for (const issue of checked.error.issues) ctx.addIssue({ code: 'custom', message: `${resolved.reference ?? 'the secret'}: ${issue.message}` });
      return z.NEVER;
    }
    return resolved;
  }) as unknown as z.ZodType<Secret, string>;
}
