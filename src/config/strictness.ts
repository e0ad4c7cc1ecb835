/**
 * The two ways a configuration is read, and the one function that applies them to a schema.
 *
 * - `strict`, carrera.yaml: written by hand, so an unknown key is a typo and is refused, and a field
 *   DDMQ's validate() requires may be left out for pproxy's default.
 * - `loose`, ZooKeeper: JSON from DDMQ's console, read as DDMQ reads it: unknown keys (fields this
 *   proxy does not use) are let through, and a field DDMQ's validate() requires must be there, since
 *   DDMQ reads an absent one as Java's 0 or null and refuses the node.
 *
 * A path a storage writes under (`pathInDataDir`) may be anything in carrera.yaml, which only the
 * node's operator writes; from ZooKeeper, which whoever may write the console's nodes writes, it
 * must stay inside dataDir: a relative path that does not climb out of it, so that a ZooKeeper
 * write cannot make the proxy create directories and files anywhere its user may.
 *
 * Every object schema of the configuration, a storage adapter's cluster settings included, is
 * written once, as a plain `z.object`, and passed through `withStrictness` by the host.
 */
import path from 'node:path';
import { z } from 'zod';

export type Strictness = 'strict' | 'loose';

const requiredInZooKeeper = z.registry();

const confinedInZooKeeper = z.registry();

/** Marks a path field, relative to dataDir, that a ZooKeeper node may not point outside dataDir. */
export function pathInDataDir<T extends z.ZodType<string | undefined>>(field: T): T {
  (field as z.ZodType).register(confinedInZooKeeper, {});
  return field;
}

/** Why `value` leaves dataDir (absolute, or climbing out with `..`), or undefined. */
export function leavesDataDir(value: string): string | undefined {
  if (path.isAbsolute(value)) return 'must be relative to dataDir when it comes from ZooKeeper';
  const normalized = path.normalize(value);
  if (normalized === '..' || normalized.startsWith(`..${path.sep}`)) return 'must stay inside dataDir when it comes from ZooKeeper (it climbs out with ..)';
  return undefined;
}

/** A field carrera.yaml may leave out: with a default, or optional. */
type Omissible = z.ZodDefault | z.ZodPrefault | z.ZodOptional;

/**
 * Marks a field, given as carrera.yaml may leave it out (with its default, or optional), as one
 * DDMQ's validate() refuses a node without (a Java 0 or null that fails its check).
 */
export function requiredByDdmq<T extends Omissible>(field: T): T {
  field.register(requiredInZooKeeper, {});
  return field;
}

/**
 * The object schema with the key and required-field rules of `mode`, its refinements kept, and the
 * same applied to the objects that are its fields (with or without a default, or optional). Typed as a plain object: in loose mode its
 * output also carries the unknown keys, which nothing reads.
 */
export function withStrictness<T extends z.ZodRawShape>(schema: z.ZodObject<T>, mode: Strictness): z.ZodObject<T> {
  const replaced: Record<string, z.core.$ZodType> = {};
  for (const [key, field] of Object.entries(schema.shape)) {
    let moded = withNestedStrictness(field, mode);
    if (mode === 'loose' && requiredInZooKeeper.has(field)) moded = required((moded as Omissible).unwrap() as unknown as z.ZodType);
    if (mode === 'loose' && confinedInZooKeeper.has(field)) moded = confined(moded as z.ZodType);
    if (moded !== field) replaced[key] = moded;
  }
  // a marked field keeps its output type; only its absence is refused
  const moded = mode === 'strict' ? schema.strict() : schema.loose();
  return (Object.keys(replaced).length > 0 ? (moded as unknown as z.ZodObject).safeExtend(replaced) : moded) as unknown as z.ZodObject<T>;
}

/** A field that is an object, or an object with a default or optional, with the rules of `mode`. */
function withNestedStrictness(field: z.core.$ZodType, mode: Strictness): z.core.$ZodType {
  if (field instanceof z.ZodObject) return withStrictness(field, mode);
  if (field instanceof z.ZodOptional && field.unwrap() instanceof z.ZodObject) return withStrictness(field.unwrap() as z.ZodObject, mode).optional();
  if (field instanceof z.ZodDefault && field.unwrap() instanceof z.ZodObject) return withStrictness(field.unwrap() as z.ZodObject, mode).default(field.def.defaultValue as never);
  if (field instanceof z.ZodPrefault && field.unwrap() instanceof z.ZodObject) return withStrictness(field.unwrap() as z.ZodObject, mode).prefault(field.def.defaultValue as never);
  return field;
}

function required(field: z.ZodType): z.ZodType {
  return z
    .any()
    .refine((value) => value !== undefined, { message: "required (DDMQ's validate refuses a node without it)", abort: true })
    .pipe(field);
}

function confined(field: z.ZodType): z.ZodType {
  return field.superRefine((value, ctx) => {
    const why = typeof value === 'string' ? leavesDataDir(value) : undefined;
    if (why) ctx.addIssue({ code: 'custom', message: why });
  });
}
