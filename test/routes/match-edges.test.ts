import { MAX_RESOURCE_NAME_LENGTH, type MatchOutcome, RouteMatcher } from '../../src/routes/match.js';
import { combineTables, parseRouteTable } from '../../src/routes/table.js';

// What a match carries besides resource#scope, and the edges of the trie walk (test/routes/match.test.ts
// has the precedence rules): backtracking out of a {param} branch, the root path, the resource-name
// length bound. Mutation testing (docs/mutation.md) showed these were pinned by nothing.
const table = `
paths:
  - path: /{id}
    name: "top:{id}"
    methods: [{ method: GET, scopes: [read] }]
  - path: /a/{p}/*
    name: "a:{p}"
    methods: [{ method: GET, scopes: [read] }]
  - path: /a/{p}/{q}/end
    name: "q:{q}"
    methods: [{ method: GET, scopes: [read] }]
  - path: /files/*
    name: files
    enforcement-mode: AUTHENTICATED
    methods: [{ method: GET, scopes: [] }]
  - path: /open/*
    enforcement-mode: DISABLED
    methods: [{ method: GET, scopes: [] }]
  - path: /copy/{bucket}/*
    name: "bucket:{bucket}"
    s3-copy-source: true
    methods: [{ method: PUT, scopes: [write] }]
`;
const m = new RouteMatcher(combineTables([parseRouteTable(table, 'test')]));

function matched(outcome: MatchOutcome) {
  if (outcome.kind !== 'matched') throw new Error(`expected a match, got ${outcome.kind}`);
  return outcome.match;
}

describe('RouteMatcher: what a match carries', () => {
  it('fills the resource from the path, keeps the table name as the family, and the matched params', () => {
    const match = matched(m.match('GET', '/a/7/x/y'));
    expect(match).toEqual({
      pattern: '/a/{p}/*',
      public: false,
      authenticated: false,
      resource: 'a:7',
      family: 'a:{p}',
      scope: 'read',
      params: { p: '7' },
      rest: ['x', 'y'],
      object: undefined,
      remote: false,
    });
  });

  it('gives the trailing * its segments, none when it matched zero', () => {
    expect(matched(m.match('GET', '/files/x/y.txt')).rest).toEqual(['x', 'y.txt']);
    expect(matched(m.match('GET', '/files')).rest).toEqual([]);
    expect(matched(m.match('GET', '/7')).rest).toEqual([]);
  });

  it('marks AUTHENTICATED routes (any identity, no scope) and DISABLED ones (public)', () => {
    expect(matched(m.match('GET', '/files/x'))).toMatchObject({ authenticated: true, public: false, scope: undefined });
    expect(matched(m.match('GET', '/open/x'))).toMatchObject({ authenticated: false, public: true });
  });

  it('passes the s3-copy-source flag on only where the table sets it', () => {
    expect(matched(m.match('PUT', '/copy/b1/k')).copySource).toBe(true);
    expect('copySource' in matched(m.match('GET', '/a/7/x'))).toBe(false);
  });

  it('names the pattern that refused the method', () => {
    expect(m.match('DELETE', '/a/7/x')).toEqual({ kind: 'no_method', pattern: '/a/{p}/*' });
  });

  it('takes HEAD as GET but no other method as GET', () => {
    expect(matched(m.match('HEAD', '/a/7/x')).scope).toBe('read');
    expect(m.match('OPTIONS', '/a/7/x').kind).toBe('no_method');
  });
});

describe('RouteMatcher: walking the table', () => {
  it('does not match the root path against a top-level {param} (no empty parameter)', () => {
    expect(m.match('GET', '/').kind).toBe('no_route');
    expect(matched(m.match('GET', '/7')).resource).toBe('top:7');
    // Also where the resource name does not use the parameter (so no value check would catch an empty one).
    const plain = new RouteMatcher(
      combineTables([parseRouteTable('paths:\n  - path: /{id}\n    name: top\n    methods: [{ method: GET, scopes: [read] }]\n', 'test')]),
    );
    expect(plain.match('GET', '/').kind).toBe('no_route');
    expect(matched(plain.match('GET', '/x')).params).toEqual({ id: 'x' });
  });

  it('forgets the value of a {param} branch it backed out of', () => {
    // /a/1/<q>/other is not /a/{p}/{q}/end: the walk backs out and /a/{p}/* decides, on p alone,
    // whatever the abandoned q held (here text no resource name may take).
    expect(matched(m.match('GET', '/a/1/x y/other'))).toMatchObject({ resource: 'a:1', params: { p: '1' } });
    expect(matched(m.match('GET', '/a/1/2/end')).resource).toBe('q:2');
  });

  it('refuses a filled resource name longer than Keycloak stores, takes one of exactly that length', () => {
    const fits = 'k'.repeat(MAX_RESOURCE_NAME_LENGTH - 'top:'.length);
    expect(matched(m.match('GET', `/${fits}`)).resource).toHaveLength(MAX_RESOURCE_NAME_LENGTH);
    expect(m.match('GET', `/${fits}k`).kind).toBe('no_route');
  });

  it('refuses a resource value with characters outside the safe set, at either end', () => {
    expect(m.match('GET', '/a#').kind).toBe('no_route');
    expect(m.match('GET', '/#a').kind).toBe('no_route');
    expect(matched(m.match('GET', '/A-z_0.9:@~')).resource).toBe('top:A-z_0.9:@~');
  });
});

describe('RouteMatcher: falling back and parameter values', () => {
  const small = new RouteMatcher(
    combineTables([
      parseRouteTable(
        `
paths:
  - path: /
    name: home
    methods: [{ method: GET, scopes: [read] }]
  - path: /b/lit
    name: lit
    methods: [{ method: GET, scopes: [read] }]
  - path: /b/{id}/tags
    name: tags
    methods: [{ method: POST, scopes: [write] }]
  - path: /c/lit/x
    name: c-lit
    methods: [{ method: GET, scopes: [read] }]
  - path: /c/*
    name: c-any
    methods: [{ method: GET, scopes: [read] }]
`,
        'test',
      ),
    ]),
  );

  it('falls back from a literal that leads nowhere to the {param} beside it, then to the wildcard', () => {
    expect(matched(small.match('POST', '/b/lit/tags'))).toMatchObject({ resource: 'tags', params: { id: 'lit' } });
    expect(matched(small.match('GET', '/c/lit/other')).resource).toBe('c-any');
    expect(matched(small.match('GET', '/c/lit/x')).resource).toBe('c-lit');
  });

  it('matches an entry for the root path itself', () => {
    expect(matched(small.match('GET', '/'))).toMatchObject({ resource: 'home', rest: [], params: {} });
  });

  it('restricts parameter values only where they fill a resource name', () => {
    // /b/{id}/tags names the fixed resource "tags": the id is not placed anywhere, so any text is fine.
    expect(matched(small.match('POST', '/b/a b/tags')).resource).toBe('tags');
    // /a/{p}/{q}/end fills "q:{q}": one unsafe value among the path's parameters refuses it.
    expect(m.match('GET', '/a/x y/2/end').kind).toBe('no_route');
    expect(m.match('GET', '/a/1/x y/end').kind).toBe('no_route');
  });
});
