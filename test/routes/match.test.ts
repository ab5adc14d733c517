import { RouteMatcher } from '../../src/routes/match.js';
import { combineTables, parseRouteTable, RouteTableError } from '../../src/routes/table.js';

const table = `
paths:
  - path: /x/special
    name: special
    methods: [{ method: GET, scopes: [read] }]
  - path: /x/{id}
    name: "item:{id}"
    methods:
      - { method: GET, scopes: [read] }
      - { method: DELETE, scopes: [delete] }
  - path: /x/{id}/tags
    name: items
    methods: [{ method: POST, scopes: [write] }]
  - path: /x/*
    name: items
    methods: [{ method: GET, scopes: [read] }, { method: PUT, scopes: [write] }]
  - path: /public/*
    enforcement-mode: DISABLED
    methods: [{ method: GET, scopes: [] }]
  - path: "{api}/mlflow/runs/delete"
    name: runs
    methods: [{ method: POST, scopes: [delete] }]
`;

function matcher(text = table, prefix = ''): RouteMatcher {
  return new RouteMatcher(combineTables([parseRouteTable(text, 'test', prefix)]));
}

describe('RouteMatcher', () => {
  const m = matcher();
  const target = (method: string, path: string) => {
    const outcome = m.match(method, path);
    return outcome.kind === 'matched'
      ? `${outcome.match.public ? 'public' : `${outcome.match.resource}#${outcome.match.scope}`}`
      : outcome.kind;
  };

  it('prefers literals over params over wildcards', () => {
    expect(target('GET', '/x/special')).toBe('special#read');
    expect(target('GET', '/x/42')).toBe('item:42#read');
    expect(target('GET', '/x/42/deep/er')).toBe('items#read');
    expect(target('POST', '/x/42/tags')).toBe('items#write');
  });

  it('lets the most specific path decide alone: a missing method is denied, never passed down', () => {
    expect(target('DELETE', '/x/special')).toBe('no_method');
    expect(target('PUT', '/x/42')).toBe('no_method'); // /x/* allows PUT, but /x/{id} is more specific
    expect(target('GET', '/x/42/tags')).toBe('no_method');
  });

  it('matches HEAD as GET unless HEAD is listed', () => {
    expect(target('HEAD', '/x/42')).toBe('item:42#read');
    expect(target('HEAD', '/public/app.js')).toBe('public');
  });

  it('denies what nobody mapped', () => {
    expect(target('GET', '/')).toBe('no_route');
    expect(target('GET', '/y')).toBe('no_route');
    expect(target('POST', '/api/2.0/mlflow/runs/delete/extra')).toBe('no_route');
  });

  it('expands {api} to all four MLflow roots', () => {
    for (const root of ['/api/2.0', '/api/3.0', '/ajax-api/2.0', '/ajax-api/3.0']) {
      expect(target('POST', `${root}/mlflow/runs/delete`)).toBe('runs#delete');
    }
    expect(target('POST', '/api/4.0/mlflow/runs/delete')).toBe('no_route');
  });

  it('wildcards match zero or more segments', () => {
    expect(target('GET', '/public')).toBe('public');
    expect(target('GET', '/public/a/b/c.js')).toBe('public');
  });

  it('refuses to put unsafe path text into a resource name', () => {
    expect(target('GET', '/x/a#b')).toBe('no_route');
    expect(target('GET', '/x/a b')).toBe('no_route');
  });

  it('places every path under the configured prefix', () => {
    const prefixed = matcher(table, '/mlflow');
    expect(prefixed.match('POST', '/mlflow/api/2.0/mlflow/runs/delete').kind).toBe('matched');
    expect(prefixed.match('POST', '/api/2.0/mlflow/runs/delete').kind).toBe('no_route');
  });
});

describe('parseRouteTable', () => {
  const bad = (text: string) => {
    try {
      combineTables([parseRouteTable(text, 't')]);
    } catch (error) {
      expect(error).toBeInstanceOf(RouteTableError);
      return (error as RouteTableError).problems.join('\n');
    }
    throw new Error('expected a RouteTableError');
  };

  it('reports every problem with the entry path', () => {
    const problems = bad(`
paths:
  - path: /a
    methods: [{ method: GET, scopes: [read] }]
  - path: /b/{id}
    name: "b:{other}"
    methods: [{ method: GET, scopes: [] }]
  - path: /c/*/d
    name: c
    methods: [{ method: GET, scopes: [read] }, { method: GET, scopes: [write] }]
`);
    expect(problems).toContain('/a: an enforced path needs a resource name');
    expect(problems).toContain('/b/{id}: name refers to {other}');
    expect(problems).toContain('/b/{id}: GET needs exactly one scope');
    expect(problems).toContain('/c/*/d: * is only allowed as the last segment');
    expect(problems).toContain('/c/*/d: method GET listed twice');
  });

  it('refuses two entries with the same shape in one table, lets a later table override', () => {
    expect(
      bad(`
paths:
  - { path: "/a/{x}", name: a, methods: [{ method: GET, scopes: [read] }] }
  - { path: "/a/{y}", name: a, methods: [{ method: POST, scopes: [write] }] }
`),
    ).toContain('the same path appears twice');
    const preset = parseRouteTable('paths: [{ path: /a, name: a, methods: [{ method: GET, scopes: [read] }] }]', 'preset');
    const team = parseRouteTable('paths: [{ path: /a, name: b, methods: [{ method: GET, scopes: [write] }] }]', 'team');
    const outcome = new RouteMatcher(combineTables([preset, team])).match('GET', '/a');
    expect(outcome.kind === 'matched' && outcome.match.resource).toBe('b');
  });

  it('rejects unknown keys, lower-case methods and public routes with scopes', () => {
    expect(bad('paths: [{ path: /a, name: a, method: GET, methods: [{ method: GET, scopes: [read] }] }]')).toContain('Unrecognized key');
    expect(bad('paths: [{ path: /a, name: a, methods: [{ method: get, scopes: [read] }] }]')).toContain('upper-case HTTP method');
    expect(bad('paths: [{ path: /a, enforcement-mode: DISABLED, methods: [{ method: GET, scopes: [read] }] }]')).toContain(
      'is public and cannot require a scope',
    );
  });
});
