import type { z } from 'zod';

/**
 * How a configuration problem is worded. The rule that matters most: a problem names the
 * option and says what is wrong, and shows the value it got only when that value cannot be a
 * secret. A mapping or list is never shown (it may hold a secret beside the mistake), nor a
 * value under an option whose name has a secret word in it, at any depth.
 */

/** Words of an option or variable name that mark its value as secret. */
const SECRET_WORDS = new Set([
  'secret',
  'secrets',
  'password',
  'passwords',
  'passwd',
  'passphrase',
  'key',
  'keys',
  'token',
  'tokens',
  'cookie',
  'cookies',
  'credential',
  'credentials',
  'authorization',
  'bearer',
  'private',
  'pat',
  'rpt',
]);

/** `clientSecretFile`, `AUTHZ_CLIENT_SECRET`, `basic.clientSecret` → their words, lower case. */
function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word !== '');
}

/** True when any segment of the option path (or the variable name) has a secret word in it. */
export function isSecretName(path: readonly PropertyKey[] | string): boolean {
  const segments = typeof path === 'string' ? [path] : path.map(String);
  return segments.some((segment) => words(segment).some((word) => SECRET_WORDS.has(word)));
}

/** A bad value as shown in a problem, or undefined when it must not be shown. */
export function shownValue(path: readonly PropertyKey[] | string, value: unknown): string | undefined {
  if (isSecretName(path)) return undefined;
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value !== 'string') return undefined; // mappings and lists: they may hold a secret beside the mistake
  const text = JSON.stringify(withoutUserinfo(value));
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** `https://user:password@host/` → `https://***@host/`: a URL's userinfo is a credential. */
export function withoutUserinfo(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#@\s]*@/i, '$1***@');
}

/** `client.secret: at least 32 characters` or `server.port: ..., got "eighty"`. */
export function describeIssue(issue: z.core.$ZodIssue, schema: z.ZodType): string[] {
  const path = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const where = issue.path.length > 0 ? `${path}.` : '';
      if (!looksLikeOptionName(key))
        return `${path}: a key that is not an option name (not shown: it may be a misplaced value); check the indentation and the "name: value" form`;
      return `${where}${key}: unknown option${hintFor(key, issue.path, schema)}`;
    });
  }
  const value = 'input' in issue && issue.input !== undefined ? shownValue(issue.path, issue.input) : undefined;
  return [`${path}: ${issue.message}${value === undefined ? '' : `, got ${value}`}`];
}

/**
 * An unknown key is echoed only when it looks like an option name (letters only, camelCase,
 * short); anything else may be a value that ended up as a key (`SUPER-SECRET-VALUE-123:`).
 */
function looksLikeOptionName(key: string): boolean {
  return /^[a-z][A-Za-z]{0,23}$/.test(key);
}

/** ` (did you mean "secretFile"?)`, ` (an option of issuer, issuers.N)`, or nothing. */
function hintFor(key: string, at: readonly PropertyKey[], schema: z.ZodType): string {
  const siblings = Object.keys(shapeOf(schemaAt(schema, at)) ?? {});
  const close = siblings.filter((name) => distance(name.toLowerCase(), key.toLowerCase()) <= Math.max(1, Math.floor(name.length / 4)));
  if (close.length > 0) return ` (did you mean ${close.map((name) => JSON.stringify(name)).join(' or ')}?)`;
  const elsewhere = optionPaths(schema)
    .filter((path) => path.split('.').pop() === key)
    .map((path) => path.split('.').slice(0, -1).join('.') || '(top level)');
  if (elsewhere.length > 0) return ` here; it is an option of ${[...new Set(elsewhere)].join(', ')}`;
  return siblings.length > 0 ? ` (known: ${siblings.join(', ')})` : '';
}

/** The schema behind optional/default/prefault/pipe wrappers. */
function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (let depth = 0; depth < 10; depth++) {
    const def = current._zod.def as { innerType?: z.ZodType; in?: z.ZodType; type: string };
    if (def.innerType !== undefined) current = def.innerType;
    else if (def.type === 'pipe' && def.in !== undefined) current = def.in;
    else break;
  }
  return current;
}

function shapeOf(schema: z.ZodType | undefined): Record<string, z.ZodType> | undefined {
  if (schema === undefined) return undefined;
  const def = unwrap(schema)._zod.def as { type: string; shape?: Record<string, z.ZodType> };
  return def.type === 'object' ? def.shape : undefined;
}

/** The part of the schema that validates the value at `path` (array indexes and record keys included). */
export function schemaAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodType | undefined {
  let current: z.ZodType | undefined = schema;
  for (const key of path) {
    if (current === undefined) return undefined;
    const def = unwrap(current)._zod.def as { type: string; shape?: Record<string, z.ZodType>; element?: z.ZodType; valueType?: z.ZodType };
    if (def.type === 'object') current = def.shape?.[String(key)];
    else if (def.type === 'array') current = def.element;
    else if (def.type === 'record') current = def.valueType;
    else return undefined;
  }
  return current;
}

/** Every option's dotted path (arrays as `N`), for "it is an option of ..." hints. */
function optionPaths(schema: z.ZodType, prefix = '', depth = 0): string[] {
  if (depth > 6) return [];
  const def = unwrap(schema)._zod.def as { type: string; shape?: Record<string, z.ZodType>; element?: z.ZodType };
  if (def.type === 'array' && def.element !== undefined) return optionPaths(def.element, `${prefix}.N`, depth + 1);
  if (def.type !== 'object' || def.shape === undefined) return [];
  return Object.entries(def.shape).flatMap(([name, child]) => {
    const path = prefix === '' ? name : `${prefix}.${name}`;
    return [path, ...optionPaths(child, path, depth + 1)];
  });
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = row;
  }
  return previous[b.length]!;
}
