/**
 * The shipped MLflow route table against MLflow's real HTTP surface: every endpoint the
 * pinned MLflow server registers (dumped from its Flask url_map by
 * scripts/routes/dump_mlflow_routes.py) is mapped, public on purpose, or denied on purpose;
 * hand-checked cases from MLflow's source map to the right resource and scope; and
 * normalisation tricks never reach a weaker rule than the plain path.
 */
import { readFileSync } from 'node:fs';
import { normalizeUri } from '../../src/request/normalize.js';
import { RouteMatcher, type MatchOutcome } from '../../src/routes/match.js';
import { combineTables, parseRouteTable, readPreset } from '../../src/routes/table.js';

interface Endpoint {
  rule: string;
  methods: string[];
  endpoint: string;
  source: string;
}
interface Expectation {
  method: string;
  path: string;
  resource?: string;
  scope?: string;
  expect?: string;
  note?: string;
}

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8'));
const { mlflow_version: mlflowVersion, endpoints } = fixture('mlflow-endpoints.json') as { mlflow_version: string; endpoints: Endpoint[] };
const entries = combineTables([parseRouteTable(readPreset('mlflow'), 'preset mlflow')]);
const matcher = new RouteMatcher(entries);

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

/** `resource#scope`, `public`, `authenticated`, or the reason for a denial. */
function decide(method: string, rawUri: string): string {
  let path: string;
  try {
    path = normalizeUri(rawUri, 8192).path;
  } catch {
    return 'rejected';
  }
  return describe_(matcher.match(method, path));
}
function describe_(outcome: MatchOutcome): string {
  if (outcome.kind !== 'matched') return outcome.kind;
  if (outcome.match.authenticated) return 'authenticated';
  return outcome.match.public ? 'public' : `${outcome.match.resource}#${outcome.match.scope}`;
}

/** A concrete path for a Flask rule: `<int:id>` → 7, `<path:p>` → a/b.txt, `<x>` → abc123. */
function sample(rule: string): string {
  return rule
    .replace(/<int:[^>]+>/g, '7')
    .replace(/<path:[^>]+>/g, 'a/b.txt')
    .replace(/<(?:string:)?[^>]+>/g, 'abc123');
}

/** Endpoints left unmapped on purpose (the preset's header says why): they stay denied. */
const DELIBERATELY_DENIED = [
  /^GET \/build\/<path:filename> /, // Flask's automatic static route; the UI uses /static-files
  /^GET \/(api|ajax-api)\/2\.0\/mlflow\/(get-online-trace-details|unified-traces) /, // Databricks-only, 501 in OSS
  /^POST \/(api|ajax-api)\/2\.0mlflow\/experiments\/search-datasets /, // a typo route in MLflow's proto, 501
];

const { cases } = fixture('mlflow-route-expectations.json') as { cases: Expectation[] };

describe(`the MLflow preset (MLflow ${mlflowVersion})`, () => {
  it('uses only the documented families and scopes', () => {
    for (const entry of entries) {
      for (const [method, rule] of entry.methods) {
        if (rule.public || rule.authenticated) {
          expect(method).toBe('GET'); // public and AUTHENTICATED routes are reads only
          continue;
        }
        expect(FAMILIES).toContain(rule.resource);
        expect(['read', 'write', 'delete']).toContain(rule.scope);
      }
    }
  });

  it('maps every endpoint MLflow registers, for every method it accepts', () => {
    const unmapped: string[] = [];
    for (const endpoint of endpoints) {
      for (const method of endpoint.methods) {
        const answer = decide(method, sample(endpoint.rule));
        if (answer === 'no_route' || answer === 'no_method') unmapped.push(`${method} ${endpoint.rule} (${endpoint.source}: ${answer})`);
      }
    }
    expect(unmapped.filter((line) => !DELIBERATELY_DENIED.some((pattern) => pattern.test(line)))).toEqual([]);
  });

  it.each(cases.map((c) => [`${c.method} ${c.path}`, c] as const))('%s', (_name, c) => {
    const expected =
      c.expect === 'public' || c.expect === 'authenticated'
        ? c.expect
        : c.expect === 'deny'
          ? expect.stringMatching(/^(no_route|no_method|rejected)$/)
          : `${c.resource}#${c.scope}`;
    expect(decide(c.method, c.path)).toEqual(expected);
  });

  it('maps each family the same under /api and /ajax-api, 2.0 and 3.0', () => {
    const samples = [
      'POST /mlflow/runs/delete',
      'GET /mlflow/experiments/get',
      'POST /mlflow/runs/search',
      'POST /mlflow/registered-models/create',
      'DELETE /mlflow/registered-models/alias',
      'GET /mlflow/traces/tr-1/info',
      'POST /mlflow/logged-models/search',
      'DELETE /mlflow/datasets/d-1',
    ];
    for (const sampleRoute of samples) {
      const [method, rest] = sampleRoute.split(' ') as [string, string];
      const answers = new Set(['/api/2.0', '/api/3.0', '/ajax-api/2.0', '/ajax-api/3.0'].map((root) => decide(method, root + rest)));
      expect(answers.size).toBe(1);
      expect([...answers][0]).toMatch(/#(read|write|delete)$/);
    }
  });

  it('never lets a normalisation trick reach a weaker rule than the plain path', () => {
    const tricks = (path: string): string[] => [
      path.replace('/mlflow/', '//mlflow//'),
      `${path}/`,
      path.replace('/mlflow/', '/mlflow/./'),
      path.replace('/mlflow/', '/mlflow/experiments/../'),
      path.replace('/mlflow/', '/mlflow/%2e%2e/mlflow/'),
      path.replace(/([a-z])(\/?)$/, (_, c: string, s: string) => `%${c.charCodeAt(0).toString(16)}${s}`),
    ];
    for (const c of cases.filter((x) => x.expect === undefined && !x.path.includes('?'))) {
      const plain = decide(c.method, c.path);
      for (const variant of tricks(c.path)) {
        const answer = decide(c.method, variant);
        // Same rule, or refused outright; never another (weaker) rule.
        if (answer !== plain) expect(answer).toMatch(/^(no_route|no_method|rejected)$/);
      }
      const encodedSlash = decide(c.method, c.path.replace(/\/([^/]*)$/, '%2F$1'));
      expect(encodedSlash).toBe('rejected');
    }
  });

  it('makes only harmless reads public', () => {
    const publicRoutes = entries.flatMap((entry) =>
      [...entry.methods].filter(([, rule]) => rule.public).map(([method]) => `${method} ${entry.pattern}`),
    );
    for (const route of publicRoutes) expect(route).toMatch(/^GET /);
    expect(decide('GET', '/api/2.0/mlflow/experiments/search')).not.toBe('public');
  });
});
