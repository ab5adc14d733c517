import type { z } from 'zod';
import { schemaAt } from './problems.js';

/** Values tried, in order, in place of a required option that was wrong, so the rest can still be checked. */
const PLACEHOLDERS: unknown[] = ['https://placeholder.invalid/', 'placeholder', {}, [], 1, true];
const MAX_ROUNDS = 8;

export interface Repaired<T> {
  data: T;
  /** Dotted paths of the options that were removed or replaced: later problems under them are echoes of the first. */
  touched: string[];
}

/**
 * Makes an input that failed validation pass, so the checks that run on valid input (those that
 * span options, such as "client.secret is required when login is on") still run and every problem
 * is reported at once, rather than one batch per start. Unknown keys and wrong values are removed
 * (their defaults apply); a required option that was wrong is replaced by a placeholder the schema
 * accepts. Undefined when no such input is found (the caller reports the schema's problems alone).
 */
export function repairInput<S extends z.ZodType>(
  schema: S,
  input: Record<string, unknown>,
  issues: readonly z.core.$ZodIssue[],
): Repaired<z.output<S>> | undefined {
  const copy = structuredClone(input);
  const touched = new Set<string>();
  let current = issues;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    for (const issue of current) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) {
          remove(copy, [...issue.path, key]);
          touched.add([...issue.path, key].join('.'));
        }
        continue;
      }
      if (issue.path.length === 0) return undefined;
      const dotted = issue.path.join('.');
      if (touched.has(dotted)) {
        // Removed already and still wrong: required. Put something the schema accepts there.
        const part = schemaAt(schema, issue.path);
        const placeholder = part === undefined ? undefined : PLACEHOLDERS.find((candidate) => part.safeParse(candidate).success);
        if (placeholder === undefined) return undefined;
        set(copy, issue.path, structuredClone(placeholder));
      } else {
        remove(copy, issue.path);
        touched.add(dotted);
      }
    }
    const parsed = schema.safeParse(copy);
    if (parsed.success) return { data: parsed.data, touched: [...touched] };
    current = parsed.error.issues;
  }
  return undefined;
}

/**
 * True when a problem (`path: text`) is about an option {@link repairInput} touched (or one inside
 * or around it), or reasons from one ("required when issuers.0.mode is ..."): either would be an
 * echo of the first problem, or wrong, since the option's real value is not the repaired one.
 */
export function isAbout(problem: string, touched: readonly string[]): boolean {
  const lead = /^[^\s:(]+/.exec(problem)?.[0] ?? '';
  return touched.some(
    (path) =>
      lead === path ||
      lead.startsWith(`${path}.`) ||
      path.startsWith(`${lead}.`) ||
      new RegExp(`(?<![\\w.])${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?!\\w)`).test(problem),
  );
}

function parentOf(root: Record<string, unknown>, path: readonly PropertyKey[]): Record<string, unknown> | undefined {
  let node: unknown = root;
  for (const key of path.slice(0, -1)) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[String(key)];
  }
  return typeof node === 'object' && node !== null ? (node as Record<string, unknown>) : undefined;
}

function remove(root: Record<string, unknown>, path: readonly PropertyKey[]): void {
  const parent = parentOf(root, path);
  if (parent !== undefined) delete parent[String(path[path.length - 1])];
}

function set(root: Record<string, unknown>, path: readonly PropertyKey[], value: unknown): void {
  const parent = parentOf(root, path);
  if (parent !== undefined) parent[String(path[path.length - 1])] = value;
}
