import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/**
 * The route table file format: Keycloak's policy-enforcer `paths` (name = resource,
 * `methods[].method/scopes`, `enforcement-mode`), plus one expansion, `{api}`, for MLflow's
 * four API roots, because a rule written for `/api` and not `/ajax-api` is a bypass.
 */
const SCOPE = /^[A-Za-z0-9_.:-]+$/;
const RESOURCE_TEMPLATE = /^[A-Za-z0-9_.:/-]*(\{[A-Za-z_][A-Za-z0-9_]*\}[A-Za-z0-9_.:/-]*)*$/;

/**
 * How a route names the one experiment it touches, when it does so in the URI (bodies are
 * invisible to auth_request): `experiment-query`, the `experiment_id` query parameter of a
 * GET/HEAD; `experiment-artifact-path`, the first segment under the path's `*` (artifact
 * proxy paths are `<experiment_id>/<run_id>/artifacts/...`), or of `?path=` when bare.
 */
export const OBJECT_RULES = ['experiment-query', 'experiment-artifact-path'] as const;
export type ObjectRule = (typeof OBJECT_RULES)[number];

const tableSchema = z.strictObject({
  paths: z.array(
    z.strictObject({
      path: z.string().startsWith('/').or(z.string().startsWith('{api}')),
      name: z.string().regex(RESOURCE_TEMPLATE, 'letters, digits, _.:/- and {param} references').min(1).optional(),
      /**
       * ENFORCING: the method's scope on the resource, decided by the IdP. DISABLED: public.
       * AUTHENTICATED (our extension): any verified identity, no UMA decision; for the UI shell,
       * so that a browser without a session is sent to login instead of loading a UI whose
       * every call fails.
       */
      'enforcement-mode': z.enum(['ENFORCING', 'DISABLED', 'AUTHENTICATED']).default('ENFORCING'),
      /** Where the request names one experiment visibly (our extension; see routes/objects.ts). */
      object: z.enum(OBJECT_RULES).optional(),
      /**
       * S3 CopyObject/UploadPartCopy (our extension): a request here that carries
       * `x-amz-copy-source` also needs what reading the source needs (routes/copy-source.ts).
       */
      's3-copy-source': z.literal(true).optional(),
      methods: z
        .array(
          z.strictObject({
            method: z.string().regex(/^[A-Z]{1,16}$/, 'an upper-case HTTP method'),
            scopes: z.array(z.string().regex(SCOPE)).max(1, 'one scope per method'),
          }),
        )
        .min(1),
    }),
  ),
});

/** MLflow serves every endpoint under these four roots; `{api}` in a table path means each. */
export const API_ROOTS = ['/api/2.0', '/api/3.0', '/ajax-api/2.0', '/ajax-api/3.0'] as const;

export type Segment = { kind: 'literal'; value: string } | { kind: 'param'; name: string } | { kind: 'wildcard' };

/** What one method on one path requires. `scope` is undefined for public and AUTHENTICATED routes. */
export interface MethodRule {
  public: boolean;
  /** Any verified identity passes; no scope, no decision. */
  authenticated: boolean;
  /** Resource name, possibly a template with `{param}` references. */
  resource: string;
  scope: string | undefined;
}

export interface RouteEntry {
  /** The path as written after expansion, for logs and errors. */
  pattern: string;
  segments: Segment[];
  methods: Map<string, MethodRule>;
  /** Set when the request names its experiment in the URI (`uma.perObject`). */
  object: ObjectRule | undefined;
  /** A copy source in `x-amz-copy-source` is decided too (`s3-copy-source`). */
  copySource: boolean;
}

export class RouteTableError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid route table:\n  - ${problems.join('\n  - ')}`);
    this.name = 'RouteTableError';
  }
}

const PRESETS = { mlflow: 'presets/mlflow.yaml', minio: 'presets/minio.yaml' } as const;

/** Reads the shipped preset's text (it ships beside the compiled module). */
export function readPreset(name: keyof typeof PRESETS): string {
  return readFileSync(fileURLToPath(new URL(PRESETS[name], import.meta.url)), 'utf8');
}

/**
 * Parses one route table (YAML or JSON text) into entries under `prefix`.
 * @throws {RouteTableError} listing every problem, each with the entry's path.
 */
export function parseRouteTable(text: string, source: string, prefix = ''): RouteEntry[] {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new RouteTableError([`${source}: not valid YAML/JSON: ${(error as Error).message.split('\n')[0]}`]);
  }
  const parsed = tableSchema.safeParse(document);
  if (!parsed.success) {
    throw new RouteTableError(parsed.error.issues.map((issue) => `${source}: ${issue.path.join('.')}: ${issue.message}`));
  }

  const problems: string[] = [];
  const entries: RouteEntry[] = [];
  for (const raw of parsed.data.paths) {
    const isAuthenticated = raw['enforcement-mode'] === 'AUTHENTICATED';
    const isPublic = raw['enforcement-mode'] === 'DISABLED';
    const open = isPublic || isAuthenticated; // no resource, no scope
    const where = `${source}: ${raw.path}`;
    if (!open && raw.name === undefined) problems.push(`${where}: an enforced path needs a resource name`);
    if (raw.object === 'experiment-artifact-path' && !raw.path.endsWith('/*'))
      problems.push(`${where}: object experiment-artifact-path needs a path ending in /*`);
    for (const expanded of expandApi(raw.path)) {
      const pattern = `${prefix}${expanded}`;
      const segments = parseSegments(pattern, where, problems);
      const params = new Set(segments.flatMap((s) => (s.kind === 'param' ? [s.name] : [])));
      for (const reference of raw.name?.matchAll(/\{([^}]+)\}/g) ?? []) {
        if (!params.has(reference[1]!)) problems.push(`${where}: name refers to {${reference[1]}}, which the path lacks`);
      }
      const methods = new Map<string, MethodRule>();
      for (const { method, scopes } of raw.methods) {
        if (methods.has(method)) problems.push(`${where}: method ${method} listed twice`);
        if (!open && scopes.length !== 1) problems.push(`${where}: ${method} needs exactly one scope`);
        if (open && scopes.length !== 0)
          problems.push(`${where}: ${method} is ${isPublic ? 'public' : 'AUTHENTICATED'} and cannot require a scope`);
        methods.set(method, {
          public: isPublic,
          authenticated: isAuthenticated,
          resource: isAuthenticated ? 'authenticated' : (raw.name ?? ''),
          scope: open ? undefined : scopes[0],
        });
      }
      entries.push({ pattern, segments, methods, object: open ? undefined : raw.object, copySource: raw['s3-copy-source'] === true });
    }
  }
  if (problems.length > 0) throw new RouteTableError(problems);
  return entries;
}

function expandApi(path: string): string[] {
  return path.startsWith('{api}') ? API_ROOTS.map((root) => root + path.slice('{api}'.length)) : [path];
}

function parseSegments(pattern: string, where: string, problems: string[]): Segment[] {
  const parts = pattern.split('/').filter((part) => part !== '');
  return parts.map((part, index): Segment => {
    if (part === '*') {
      if (index !== parts.length - 1) problems.push(`${where}: * is only allowed as the last segment`);
      return { kind: 'wildcard' };
    }
    const param = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(part);
    if (param !== null) return { kind: 'param', name: param[1]! };
    if (/[{}*]/.test(part)) problems.push(`${where}: segment ${JSON.stringify(part)} mixes a pattern with text`);
    if (part === '.' || part === '..') problems.push(`${where}: dot segments never match a normalised path`);
    return { kind: 'literal', value: part };
  });
}

/** The shape of a pattern regardless of parameter names: two entries with one shape collide. */
export function patternShape(segments: Segment[]): string {
  return segments.map((s) => (s.kind === 'literal' ? s.value : s.kind === 'param' ? '{}' : '*')).join('/');
}

/**
 * Combines tables: later tables replace earlier entries of the same shape (so a team's file
 * overrides the preset), while a shape repeated within one table is an error.
 */
export function combineTables(tables: RouteEntry[][]): RouteEntry[] {
  const byShape = new Map<string, RouteEntry>();
  const problems: string[] = [];
  for (const table of tables) {
    const seen = new Set<string>();
    for (const entry of table) {
      const shape = patternShape(entry.segments);
      if (seen.has(shape)) problems.push(`${entry.pattern}: the same path appears twice (merge its methods into one entry)`);
      seen.add(shape);
      byShape.set(shape, entry);
    }
  }
  if (problems.length > 0) throw new RouteTableError(problems);
  return [...byShape.values()];
}
