#!/usr/bin/env node
// Checks that the shipped MLflow route table covers every route MLflow serves.
//
//   node scripts/routes/check-coverage.mjs [--endpoints F] [--preset F] [--expectations F]
//                                          [--dist [--dist-dir D]] [--verbose]
//
// Reads test/routes/fixtures/mlflow-endpoints.json (written by dump_mlflow_routes.py from a
// real MLflow install) and src/routes/presets/mlflow.yaml, turns every Flask/Starlette rule
// into concrete sample paths (`<x>` -> one segment, `<int:x>` -> digits, `<path:p>` -> one and
// several segments, `a<x>b` -> text around a sample), and matches each (method, path) the way
// the service does: literal > {param} > trailing `*`, the most specific path decides alone,
// HEAD as GET, `{api}` = the four MLflow API roots. It reports
//   * every (method, rule) the table leaves unmapped, split into the deliberate deny list
//     below and UNEXPECTED ones (exit 1);
//   * policy lint on the table: scopes only read/write/delete, names from the family list,
//     one scope per method (none when public), no path twice, GET always read, DELETE always
//     delete, and path words (search/get/list -> read; delete/remove/revoke/restore -> delete)
//     unless listed in LINT_EXCEPTIONS (exit 1);
//   * table entries no MLflow route reaches (stale; a warning);
//   * optionally, with --expectations, the hand-written cases in
//     test/routes/fixtures/mlflow-route-expectations.json (exit 1 on a mismatch).
// With --dist it also runs every sample through the service's own compiled matcher
// (dist/routes/{table,match}.js, `npm run build` first, or `--dist-dir` for another outDir)
// and fails if the two disagree.

import { readFileSync, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  const value = args[at + 1];
  return at === -1 || value === undefined || value.startsWith('--') ? fallback : resolve(value);
};
const ENDPOINTS = option('--endpoints', resolve(ROOT, 'test/routes/fixtures/mlflow-endpoints.json'));
const PRESET = option('--preset', resolve(ROOT, 'src/routes/presets/mlflow.yaml'));
const EXPECTATIONS = args.includes('--expectations')
  ? option('--expectations', resolve(ROOT, 'test/routes/fixtures/mlflow-route-expectations.json'))
  : undefined;
const VERBOSE = args.includes('--verbose');
const USE_DIST = args.includes('--dist');
const DIST = option('--dist-dir', resolve(ROOT, 'dist'));

const API_ROOTS = ['/api/2.0', '/api/3.0', '/ajax-api/2.0', '/ajax-api/3.0'];
const SCOPES = new Set(['read', 'write', 'delete']);
const FAMILIES = new Set([
  'experiments',
  'runs',
  'registered-models',
  'logged-models',
  'traces',
  'datasets',
  'scorers',
  'prompt-optimization',
  'issues',
  'label-schemas',
  'review-queues',
  'artifacts',
  'gateway',
  'admin',
]);

// (method, Flask rule) pairs left unmapped on purpose; keep in step with the YAML header.
const DELIBERATE_DENY = new Map([
  ['GET /build/<path:filename>', "Flask's automatic static route; the UI uses /static-files"],
  ['GET /api/2.0/mlflow/get-online-trace-details', 'Databricks-only, 501 in MLflow OSS'],
  ['GET /ajax-api/2.0/mlflow/get-online-trace-details', 'Databricks-only, 501 in MLflow OSS'],
  ['GET /api/2.0/mlflow/unified-traces', 'Databricks-only, 501 in MLflow OSS'],
  ['GET /ajax-api/2.0/mlflow/unified-traces', 'Databricks-only, 501 in MLflow OSS'],
  ['POST /api/2.0mlflow/experiments/search-datasets', 'typo path in the proto, 501'],
  ['POST /ajax-api/2.0mlflow/experiments/search-datasets', 'typo path in the proto, 501'],
]);

// Table paths whose wording the lint would misread, with the reason.
const LINT_EXCEPTIONS = new Map([
  ['{api}/mlflow/datasets/{dataset_id}/remove-experiments POST write', 'unlinks, deletes nothing'],
  ['{api}/mlflow/review-queues/items/remove POST write', 'takes traces out of a queue'],
  ['{api}/mlflow/review-queues/get-or-create-user POST write', 'creates the queue if missing'],
  ['{api}/mlflow/registered-models/get-latest-versions POST read', 'read sent as POST'],
  ['{api}/mlflow/ui-telemetry POST read', 'kept behind a login, see the table'],
  ['{api}/mlflow/artifacts/presigned-download-url POST read', 'read sent as POST'],
  ['{api}/mlflow/traces/batchGetInfos POST read', 'read sent as POST'],
  ['/ajax-api/3.0/jobs/search POST read', 'read sent as POST'],
]);

// Table entries no MLflow route reaches, on purpose.
const UNREACHED_OK = new Set(['/favicon.ico']);

// ------------------------------------------------------------------ the table ----
function loadTable(file) {
  const doc = parseYaml(readFileSync(file, 'utf8'));
  const problems = [];
  const entries = [];
  const shapes = new Map();
  for (const raw of doc?.paths ?? []) {
    const where = raw.path;
    // AUTHENTICATED (our extension): any verified identity, no UMA decision; checked like a public entry.
    const isPublic = raw['enforcement-mode'] === 'DISABLED' || raw['enforcement-mode'] === 'AUTHENTICATED';
    const allowed = new Set(['path', 'name', 'methods', 'enforcement-mode', 'object']);
    for (const key of Object.keys(raw)) if (!allowed.has(key)) problems.push(`${where}: unknown key ${key}`);
    if (!isPublic && !FAMILIES.has(raw.name)) problems.push(`${where}: name ${JSON.stringify(raw.name)} is not a known family`);
    if (isPublic && raw.name !== undefined) problems.push(`${where}: a public entry names no resource`);
    const methods = new Map();
    for (const { method, scopes } of raw.methods ?? []) {
      if (methods.has(method)) problems.push(`${where}: ${method} listed twice`);
      if (method === 'HEAD' || method === 'OPTIONS') problems.push(`${where}: do not list ${method}`);
      if (isPublic) {
        if (scopes.length !== 0) problems.push(`${where}: public ${method} has scopes`);
        methods.set(method, { public: true, resource: undefined, scope: undefined });
        continue;
      }
      if (scopes.length !== 1) problems.push(`${where}: ${method} needs exactly one scope`);
      if (!SCOPES.has(scopes[0])) problems.push(`${where}: ${method} scope ${scopes[0]} is not read/write/delete`);
      methods.set(method, { public: false, resource: raw.name, scope: scopes[0] });
      lint(where, method, scopes[0], problems);
    }
    if (methods.size === 0) problems.push(`${where}: no methods`);
    const expanded = where.startsWith('{api}') ? API_ROOTS.map((r) => r + where.slice(5)) : [where];
    for (const pattern of expanded) {
      const segments = pattern
        .split('/')
        .filter(Boolean)
        .map((part, i, all) => {
          if (part === '*') {
            if (i !== all.length - 1) problems.push(`${where}: * must be last`);
            return { kind: 'wildcard' };
          }
          const param = /^\{([A-Za-z_]\w*)\}$/.exec(part);
          if (param) return { kind: 'param', name: param[1] };
          if (/[{}*]/.test(part)) problems.push(`${where}: segment ${part} mixes a pattern with text`);
          return { kind: 'literal', value: part };
        });
      const shape = segments.map((s) => (s.kind === 'literal' ? s.value : s.kind === 'param' ? '{}' : '*')).join('/');
      if (shapes.has(shape)) problems.push(`${where}: same path as ${shapes.get(shape)} (merge the methods)`);
      shapes.set(shape, where);
      entries.push({ source: where, pattern, segments, methods, hits: 0 });
    }
  }
  return { entries, problems };
}

function lint(path, method, scope, problems) {
  const key = `${path} ${method} ${scope}`;
  if (LINT_EXCEPTIONS.has(key)) return;
  const last =
    path
      .split('/')
      .filter((p) => p !== '*' && !p.startsWith('{'))
      .pop() ?? '';
  if (method === 'GET' && scope !== 'read') problems.push(`lint: ${key}: GET must be read`);
  if (method === 'DELETE' && scope !== 'delete') problems.push(`lint: ${key}: DELETE must be delete`);
  if (/(^|-)(delete|remove|revoke|restore|unassign)(-|$)/.test(last) || last === 'delete-traces') {
    if (scope !== 'delete') problems.push(`lint: ${key}: "${last}" should be delete`);
  } else if (/^(search|get|list|batchGet|batchGetInfos|get-by-name|get-latest-versions|metrics)$/.test(last) || /^search-/.test(last)) {
    if (scope !== 'read') problems.push(`lint: ${key}: "${last}" should be read`);
  }
}

// ---------------------------------------------------------------- the matcher ----
function buildTrie(entries) {
  const node = () => ({ literals: new Map(), param: undefined, wildcard: undefined, entry: undefined });
  const root = node();
  for (const entry of entries) {
    let at = root;
    let done = false;
    for (const s of entry.segments) {
      if (s.kind === 'wildcard') {
        at.wildcard = entry;
        done = true;
        break;
      }
      if (s.kind === 'param') at = at.param ??= node();
      else {
        if (!at.literals.has(s.value)) at.literals.set(s.value, node());
        at = at.literals.get(s.value);
      }
    }
    if (!done) at.entry = entry;
  }
  return root;
}

function find(n, segs, i) {
  if (i === segs.length) return n.entry ?? n.wildcard;
  const lit = n.literals.get(segs[i]);
  if (lit) {
    const f = find(lit, segs, i + 1);
    if (f) return f;
  }
  if (n.param) {
    const f = find(n.param, segs, i + 1);
    if (f) return f;
  }
  return n.wildcard;
}

/** As the service: path is already normalised (no empty segments, no trailing slash). */
function match(trie, method, path) {
  const segs = path.split('/').filter(Boolean);
  const entry = find(trie, segs, 0);
  if (!entry) return { kind: 'no_route' };
  const rule = entry.methods.get(method) ?? (method === 'HEAD' ? entry.methods.get('GET') : undefined);
  if (!rule) return { kind: 'no_method', entry };
  entry.hits++;
  return { kind: 'matched', entry, rule };
}

const describe = (m) => (m.kind !== 'matched' ? 'deny' : m.rule.public ? 'public' : `${m.rule.resource}#${m.rule.scope}`);

// ------------------------------------------------------------------ samples ----
/** Concrete paths for a Flask-syntax rule: each variable filled in, paths both short and nested. */
function samples(rule) {
  const fill = (deep) =>
    rule.replace(/<(?:(\w+):)?(\w+)>/g, (_, conv, name) => {
      if (conv === 'int') return '42';
      if (conv === 'path') return deep ? `${name}-a/b/c.txt` : `${name}-x`;
      return `${name}-1f2e`; // one segment; unlike any literal sibling
    });
  const normalise = (p) => `/${p.split('/').filter(Boolean).join('/')}`;
  return [...new Set([normalise(fill(false)), normalise(fill(true))])];
}

// --------------------------------------------------------------------- main ----
const fixture = JSON.parse(readFileSync(ENDPOINTS, 'utf8'));
const { entries, problems } = loadTable(PRESET);
const trie = buildTrie(entries);

let distMatcher;
if (USE_DIST) {
  const table = resolve(DIST, 'routes/table.js');
  const matchJs = resolve(DIST, 'routes/match.js');
  if (!existsSync(table) || !existsSync(matchJs)) {
    problems.push('--dist: dist/routes/{table,match}.js missing (npm run build)');
  } else {
    const { parseRouteTable, combineTables } = await import(pathToFileURL(table).href);
    const { RouteMatcher } = await import(pathToFileURL(matchJs).href);
    distMatcher = new RouteMatcher(combineTables([parseRouteTable(readFileSync(PRESET, 'utf8'), PRESET)]));
  }
}
const distDescribe = (method, path) => {
  const o = distMatcher.match(method, path);
  return o.kind !== 'matched' ? 'deny' : o.match.public ? 'public' : `${o.match.family}#${o.match.scope}`;
};

const pairs = new Map(); // "METHOD rule" -> sources
for (const e of fixture.endpoints) {
  for (const method of e.methods) {
    const key = `${method} ${e.rule}`;
    pairs.set(key, [...(pairs.get(key) ?? []), e.source]);
  }
}

const counts = { mapped: 0, public: 0, deniedOnPurpose: 0, unexpected: 0 };
const byTarget = new Map();
const unexpected = [];
const deliberate = [];
const disagreements = [];
for (const [key, sources] of [...pairs].sort()) {
  const [method, rule] = key.split(' ');
  if (method === 'WEBSOCKET') {
    unexpected.push(`${key}  (websocket: no rule format for it yet)`);
    counts.unexpected++;
    continue;
  }
  const outcomes = samples(rule).map((p) => ({ p, m: match(trie, method, p) }));
  const targets = new Set(outcomes.map((o) => describe(o.m)));
  if (distMatcher) {
    for (const { p, m } of outcomes) {
      const theirs = distDescribe(method, p);
      if (theirs !== describe(m)) disagreements.push(`${method} ${p}: script ${describe(m)}, service ${theirs}`);
    }
  }
  if (targets.size !== 1) {
    problems.push(`${key}: samples disagree (${outcomes.map((o) => `${o.p} -> ${describe(o.m)}`).join('; ')})`);
  }
  const target = [...targets][0];
  if (target === 'deny') {
    if (DELIBERATE_DENY.has(key)) {
      counts.deniedOnPurpose++;
      deliberate.push(`${key}  (${DELIBERATE_DENY.get(key)})`);
    } else {
      counts.unexpected++;
      const why = outcomes[0].m.kind === 'no_method' ? `no ${method} on ${outcomes[0].m.entry.source}` : 'no route';
      unexpected.push(`${key}  [${sources.join(',')}] ${why}`);
    }
    continue;
  }
  if (DELIBERATE_DENY.has(key)) problems.push(`${key}: on the deny list but mapped to ${target}`);
  if (target === 'public') counts.public++;
  else counts.mapped++;
  byTarget.set(target, (byTarget.get(target) ?? 0) + 1);
  if (VERBOSE) console.log(`  ${key.padEnd(78)} -> ${target}`);
}

// Hand-written expectations (optional).
let expectationFailures = 0;
let expectationCount = 0;
if (EXPECTATIONS) {
  const { cases } = JSON.parse(readFileSync(EXPECTATIONS, 'utf8'));
  for (const c of cases) {
    expectationCount++;
    // A case is {resource, scope} or {expect: 'public' | 'deny'}.
    const want = c.scope !== undefined ? `${c.resource}#${c.scope}` : c.expect;
    if (want !== 'public' && want !== 'deny' && !(FAMILIES.has(c.resource) && SCOPES.has(c.scope))) {
      problems.push(`expectation: ${c.method} ${c.path}: malformed case ${JSON.stringify(c)}`);
    }
    const path = `/${c.path.split('?')[0].split('/').filter(Boolean).join('/')}`;
    const got = describe(match(trie, c.method, path));
    const dist = distMatcher ? distDescribe(c.method, path) : got;
    if (got !== want || dist !== want) {
      expectationFailures++;
      problems.push(`expectation: ${c.method} ${c.path}: want ${want}, table gives ${got}${distMatcher ? `, service ${dist}` : ''}`);
    }
  }
}

const stale = [...new Set(entries.filter((e) => e.hits === 0).map((e) => e.source))].filter((s) => {
  // An {api} entry is stale only if none of its four expansions was reached.
  return !entries.some((e) => e.source === s && e.hits > 0) && !UNREACHED_OK.has(s);
});

const total = pairs.size;
console.log(`MLflow ${fixture.mlflow_version}: ${fixture.endpoints.length} endpoints, ${total} (method, rule) pairs`);
console.log(`table: ${new Set(entries.map((e) => e.source)).size} paths (${entries.length} after {api} expansion)`);
console.log(`mapped ${counts.mapped}, public ${counts.public}, denied on purpose ${counts.deniedOnPurpose}, UNMAPPED ${counts.unexpected}`);
console.log(
  'by resource#scope: ' +
    [...byTarget]
      .sort()
      .map(([k, v]) => `${k} ${v}`)
      .join(', '),
);
if (deliberate.length) console.log(`\ndenied on purpose (${deliberate.length}):\n  ${deliberate.join('\n  ')}`);
if (unexpected.length) console.log(`\nUNMAPPED (${unexpected.length}):\n  ${unexpected.join('\n  ')}`);
if (stale.length) console.log(`\nwarning: table paths no MLflow ${fixture.mlflow_version} route reaches:\n  ${stale.join('\n  ')}`);
if (EXPECTATIONS) console.log(`\nexpectations: ${expectationCount - expectationFailures}/${expectationCount} pass`);
if (distMatcher)
  console.log(`service matcher (dist): ${disagreements.length === 0 ? 'agrees on every sample' : `${disagreements.length} disagreements`}`);
for (const d of disagreements) problems.push(`dist: ${d}`);
if (problems.length) console.log(`\nPROBLEMS (${problems.length}):\n  ${problems.join('\n  ')}`);
process.exit(problems.length > 0 || counts.unexpected > 0 ? 1 : 0);
