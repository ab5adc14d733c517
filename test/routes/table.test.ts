/**
 * The route table loader on its own (src/routes/table.ts): what each entry becomes, and every refusal of
 * a table that would match something other than what its author wrote. test/routes/match.test.ts has the
 * first problems reported; the mutation queue of round 5 (docs/mutation.md) showed which rules and edges
 * nothing pinned down. A table that loads decides every route, so each refusal here keeps a typo from
 * becoming a weaker rule.
 */
import { parse as parseYaml } from 'yaml';
import {
  API_ROOTS,
  combineTables,
  parseRouteTable,
  patternShape,
  RouteTableError,
  readPreset,
  type RouteEntry,
} from '../../src/routes/table.js';

/** The problems of a table that must not load (one line each). */
function problemsOf(text: string): string[] {
  try {
    combineTables([parseRouteTable(text, 't')]);
  } catch (error) {
    expect(error).toBeInstanceOf(RouteTableError);
    return (error as RouteTableError).problems;
  }
  throw new Error(`expected a RouteTableError for ${text}`);
}

const one = (entry: string): RouteEntry[] => parseRouteTable(`paths: [${entry}]`, 't');
const enforced = (extra: string): string => `{ path: /a, name: a, methods: [{ method: GET, scopes: [read] }], ${extra} }`;

describe('parseRouteTable: what an entry becomes', () => {
  it('an enforced entry: resource and scope per method, its segments, no object, no copy source', () => {
    const [entry] = one(
      '{ path: "/r/{id}/*", name: "run:{id}", methods: [{ method: GET, scopes: [read] }, { method: POST, scopes: [write] }] }',
    );
    expect(entry!.pattern).toBe('/r/{id}/*');
    expect(entry!.segments).toEqual([{ kind: 'literal', value: 'r' }, { kind: 'param', name: 'id' }, { kind: 'wildcard' }]);
    expect([...entry!.methods]).toEqual([
      ['GET', { public: false, authenticated: false, resource: 'run:{id}', scope: 'read' }],
      ['POST', { public: false, authenticated: false, resource: 'run:{id}', scope: 'write' }],
    ]);
    expect(entry!.object).toBeUndefined();
    expect(entry!.copySource).toBe(false);
  });

  it('enforces when no enforcement-mode is given', () => {
    expect(problemsOf('paths: [{ path: /a, methods: [{ method: GET, scopes: [] }] }]')).toEqual([
      't: /a: an enforced path needs a resource name',
      't: /a: GET needs exactly one scope',
    ]);
  });

  it('a DISABLED entry is public: no scope, its name (or nothing) as the resource', () => {
    expect(one('{ path: /p, enforcement-mode: DISABLED, methods: [{ method: GET, scopes: [] }] }')[0]!.methods.get('GET')).toEqual({
      public: true,
      authenticated: false,
      resource: '',
      scope: undefined,
    });
    expect(
      one('{ path: /p, name: pub, enforcement-mode: DISABLED, methods: [{ method: GET, scopes: [] }] }')[0]!.methods.get('GET'),
    ).toEqual({
      public: true,
      authenticated: false,
      resource: 'pub',
      scope: undefined,
    });
  });

  it('an AUTHENTICATED entry: any identity, the fixed resource "authenticated", no scope, never a scope', () => {
    expect(
      one('{ path: /ui, name: ui, enforcement-mode: AUTHENTICATED, methods: [{ method: GET, scopes: [] }] }')[0]!.methods.get('GET'),
    ).toEqual({
      public: false,
      authenticated: true,
      resource: 'authenticated',
      scope: undefined,
    });
    expect(problemsOf('paths: [{ path: /ui, enforcement-mode: AUTHENTICATED, methods: [{ method: GET, scopes: [read] }] }]')).toEqual([
      't: /ui: GET is AUTHENTICATED and cannot require a scope',
    ]);
  });

  it('keeps object rules and the copy-source flag on enforced entries only', () => {
    expect(one(enforced('object: experiment-query'))[0]!.object).toBe('experiment-query');
    expect(one('{ path: "/a/*", name: a, object: experiment-artifact-path, methods: [{ method: GET, scopes: [read] }] }')[0]!.object).toBe(
      'experiment-artifact-path',
    );
    expect(
      one('{ path: /p, enforcement-mode: DISABLED, object: experiment-query, methods: [{ method: GET, scopes: [] }] }')[0]!.object,
    ).toBeUndefined();
    expect(
      one('{ path: /p, enforcement-mode: AUTHENTICATED, object: experiment-query, methods: [{ method: GET, scopes: [] }] }')[0]!.object,
    ).toBeUndefined();
    expect(one(enforced('s3-copy-source: true'))[0]!.copySource).toBe(true);
  });

  it('expands {api} to the four MLflow roots, each under the prefix', () => {
    expect(API_ROOTS).toEqual(['/api/2.0', '/api/3.0', '/ajax-api/2.0', '/ajax-api/3.0']);
    const entries = parseRouteTable(
      'paths: [{ path: "{api}/mlflow/x", name: x, methods: [{ method: GET, scopes: [read] }] }]',
      't',
      '/mlflow',
    );
    expect(entries.map((e) => e.pattern)).toEqual([
      '/mlflow/api/2.0/mlflow/x',
      '/mlflow/api/3.0/mlflow/x',
      '/mlflow/ajax-api/2.0/mlflow/x',
      '/mlflow/ajax-api/3.0/mlflow/x',
    ]);
    expect(one('{ path: /api/x, name: x, methods: [{ method: GET, scopes: [read] }] }').map((e) => e.pattern)).toEqual(['/api/x']);
  });

  it('drops empty segments of a path, as normalisation drops them from requests', () => {
    expect(one('{ path: "//a//b/", name: a, methods: [{ method: GET, scopes: [read] }] }')[0]!.segments).toEqual([
      { kind: 'literal', value: 'a' },
      { kind: 'literal', value: 'b' },
    ]);
    expect(one('{ path: /, name: root, methods: [{ method: GET, scopes: [read] }] }')[0]!.segments).toEqual([]);
  });
});

describe('parseRouteTable: refusals', () => {
  it.each([
    ['a path that starts with neither / nor {api}', '{ path: a/b, name: a, methods: [{ method: GET, scopes: [read] }] }', 'paths.0.path'],
    ['no methods', '{ path: /a, name: a, methods: [] }', 'paths.0.methods'],
    ['two scopes for one method', '{ path: /a, name: a, methods: [{ method: GET, scopes: [read, write] }] }', 'one scope per method'],
    ['a method of 17 letters', `{ path: /a, name: a, methods: [{ method: ${'G'.repeat(17)}, scopes: [read] }] }`, 'upper-case HTTP method'],
    ['a method with a digit', '{ path: /a, name: a, methods: [{ method: GET1, scopes: [read] }] }', 'upper-case HTTP method'],
    ['an empty resource name', '{ path: /a, name: "", methods: [{ method: GET, scopes: [read] }] }', 'paths.0.name'],
    [
      'an unknown enforcement mode',
      '{ path: /a, name: a, enforcement-mode: PERMISSIVE, methods: [{ method: GET, scopes: [read] }] }',
      'enforcement-mode',
    ],
    ['an unknown object rule', enforced('object: experiment-body'), 'paths.0.object'],
    ['s3-copy-source: false', enforced('s3-copy-source: false'), 's3-copy-source'],
    ['paths that are not a list', null, 'paths'],
  ])('refuses %s', (_name, entry, expected) => {
    const problems = problemsOf(entry === null ? 'paths: { a: 1 }' : `paths: [${entry}]`).join('\n');
    expect(problems).toContain(expected);
    expect(problems.startsWith('t: ')).toBe(true);
  });

  it.each([['read write'], [' read'], ['read '], ['read!'], ['re#ad'], ['']])(
    'refuses the scope %j (scopes are letters, digits and _.:- only)',
    (scope) => {
      expect(
        problemsOf(`paths: [{ path: /a, name: a, methods: [{ method: GET, scopes: [${JSON.stringify(scope)}] }] }]`).join('\n'),
      ).toContain('paths.0.methods.0.scopes.0');
    },
  );

  it('accepts a scope of every allowed character', () => {
    expect(one('{ path: /a, name: a, methods: [{ method: GET, scopes: ["Az09_.:-"] }] }')[0]!.methods.get('GET')!.scope).toBe('Az09_.:-');
  });

  it.each([['a b'], ['a#b'], ['#a'], ['a#'], ['x{id'], ['x{id}}'], ['{1id}'], ['{}'], ['a{id}b{'], ['é']])(
    'refuses the resource name %j',
    (name) => {
      expect(
        problemsOf(`paths: [{ path: "/a/{id}", name: ${JSON.stringify(name)}, methods: [{ method: GET, scopes: [read] }] }]`).join('\n'),
      ).toContain('letters, digits, _.:/- and {param} references');
    },
  );

  it.each([['a'], ['Az09_.:/-'], ['{id}'], ['x:{id}'], ['{id}:y'], ['a/{id}/b/{_q9}'], ['{id}{q}']])(
    'accepts the resource name %j',
    (name) => {
      const table = `paths: [{ path: "/a/{id}/{q}/{_q9}", name: ${JSON.stringify(name)}, methods: [{ method: GET, scopes: [read] }] }]`;
      expect(parseRouteTable(table, 't')[0]!.methods.get('GET')!.resource).toBe(name);
    },
  );

  it('refuses a name that refers to a parameter its path lacks, in every expansion', () => {
    expect(problemsOf('paths: [{ path: "{api}/x/{id}", name: "x:{run}", methods: [{ method: GET, scopes: [read] }] }]')).toEqual(
      Array(4).fill('t: {api}/x/{id}: name refers to {run}, which the path lacks'),
    );
  });

  it('refuses a scope on a public entry and none on an enforced one, per method', () => {
    expect(
      problemsOf(
        'paths: [{ path: /p, enforcement-mode: DISABLED, methods: [{ method: GET, scopes: [] }, { method: POST, scopes: [write] }] }, { path: /e, name: e, methods: [{ method: GET, scopes: [read] }, { method: PUT, scopes: [] }] }]',
      ),
    ).toEqual(['t: /p: POST is public and cannot require a scope', 't: /e: PUT needs exactly one scope']);
  });

  it('refuses a method listed twice, once per repetition', () => {
    expect(
      problemsOf(
        'paths: [{ path: /a, name: a, methods: [{ method: GET, scopes: [read] }, { method: POST, scopes: [w] }, { method: GET, scopes: [read] }] }]',
      ),
    ).toEqual(['t: /a: method GET listed twice']);
  });

  it('asks for a path ending in /* for experiment-artifact-path', () => {
    for (const path of ['/a', '/a/{id}', '/a*', '/*/a']) {
      expect(
        problemsOf(`paths: [{ path: "${path}", name: a, object: experiment-artifact-path, methods: [{ method: GET, scopes: [read] }] }]`),
      ).toContain(`t: ${path}: object experiment-artifact-path needs a path ending in /*`);
    }
    expect(one(enforced('object: experiment-query'))).toHaveLength(1);
  });

  it('takes * only as the whole last segment, {name} only as a whole segment, and no dot segments', () => {
    expect(one('{ path: "/*", name: a, methods: [{ method: GET, scopes: [read] }] }')[0]!.segments).toEqual([{ kind: 'wildcard' }]);
    expect(problemsOf('paths: [{ path: "/*/a", name: a, methods: [{ method: GET, scopes: [read] }] }]')).toEqual([
      't: /*/a: * is only allowed as the last segment',
    ]);
    for (const segment of ['a*', '*a', '{id}x', 'x{id}', '{1id}', '{}', '{a-b}', 'a}', '{a']) {
      expect(problemsOf(`paths: [{ path: "/r/${segment}", name: a, methods: [{ method: GET, scopes: [read] }] }]`)).toEqual([
        `t: /r/${segment}: segment ${JSON.stringify(segment)} mixes a pattern with text`,
      ]);
    }
    for (const segment of ['.', '..']) {
      expect(problemsOf(`paths: [{ path: "/r/${segment}/x", name: a, methods: [{ method: GET, scopes: [read] }] }]`)).toEqual([
        `t: /r/${segment}/x: dot segments never match a normalised path`,
      ]);
    }
    expect(one('{ path: "/r/.a/a.", name: a, methods: [{ method: GET, scopes: [read] }] }')[0]!.segments).toEqual([
      { kind: 'literal', value: 'r' },
      { kind: 'literal', value: '.a' },
      { kind: 'literal', value: 'a.' },
    ]);
    expect(one('{ path: "/r/{_Id9}", name: a, methods: [{ method: GET, scopes: [read] }] }')[0]!.segments[1]).toEqual({
      kind: 'param',
      name: '_Id9',
    });
  });

  it('names the source and only the first line of a YAML error', () => {
    const text = 'paths: [\n  - a\n  b: :';
    // The YAML library's own message (several lines, with a code excerpt): only its first line is kept.
    const yamlMessage = (() => {
      try {
        parseYaml(text);
      } catch (error) {
        return (error as Error).message;
      }
      throw new Error('parsed');
    })();
    expect(yamlMessage).toContain('\n');
    try {
      parseRouteTable(text, 'team.yaml');
      throw new Error('parsed');
    } catch (error) {
      expect(error).toBeInstanceOf(RouteTableError);
      expect((error as RouteTableError).problems).toEqual([`team.yaml: not valid YAML/JSON: ${yamlMessage.split('\n')[0]}`]);
      expect(yamlMessage.split('\n')[0]!.length).toBeGreaterThan(5);
    }
  });

  it('lists every problem in its message', () => {
    const error = new RouteTableError(['one', 'two']);
    expect(error.message).toBe('invalid route table:\n  - one\n  - two');
    expect(error.name).toBe('RouteTableError');
  });
});

describe('patternShape and combineTables', () => {
  it('gives one shape to paths that differ only in parameter names', () => {
    const [a, b, c] = parseRouteTable(
      'paths: [{ path: "/a/{x}/*", name: a, methods: [{ method: GET, scopes: [r] }] }, { path: "/a/{y}/*", name: b, methods: [{ method: GET, scopes: [r] }] }, { path: "/a/y/*", name: c, methods: [{ method: GET, scopes: [r] }] }]',
      't',
    );
    expect(patternShape(a!.segments)).toBe('a/{}/*');
    expect(patternShape(b!.segments)).toBe('a/{}/*');
    expect(patternShape(c!.segments)).toBe('a/y/*');
  });

  it('lets a later table replace an entry of the same shape and keeps every other entry of both', () => {
    const preset = parseRouteTable(
      'paths: [{ path: "/a/{x}", name: old, methods: [{ method: GET, scopes: [r] }] }, { path: /b, name: b, methods: [{ method: GET, scopes: [r] }] }]',
      'preset',
    );
    const team = parseRouteTable(
      'paths: [{ path: "/a/{id}", name: new, methods: [{ method: GET, scopes: [r] }] }, { path: /c, name: c, methods: [{ method: GET, scopes: [r] }] }]',
      'team',
    );
    const combined = combineTables([preset, team]);
    expect(combined.map((e) => e.pattern).sort()).toEqual(['/a/{id}', '/b', '/c']);
    expect(combined.find((e) => e.pattern === '/a/{id}')!.methods.get('GET')!.resource).toBe('new');
  });

  it('refuses a shape repeated within one table, naming it each time it repeats', () => {
    const table = parseRouteTable(
      'paths: [{ path: /a, name: a, methods: [{ method: GET, scopes: [r] }] }, { path: /a, name: b, methods: [{ method: PUT, scopes: [w] }] }, { path: /b, name: b, methods: [{ method: GET, scopes: [r] }] }]',
      't',
    );
    try {
      combineTables([table, []]);
      throw new Error('combined');
    } catch (error) {
      expect((error as RouteTableError).problems).toEqual(['/a: the same path appears twice (merge its methods into one entry)']);
    }
  });
});

describe('readPreset', () => {
  it('reads each shipped preset, and each loads', () => {
    const load = (name: 'mlflow' | 'minio') => combineTables([parseRouteTable(readPreset(name), `preset ${name}`)]);
    expect(load('mlflow').length).toBeGreaterThan(50);
    expect(load('minio').length).toBeGreaterThan(1);
    expect(readPreset('minio')).not.toBe(readPreset('mlflow'));
  });
});
