import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { configFiles, configProblems as problems, MINIMAL_ENV as minimal } from '../helpers/config.js';

const file = configFiles();
const { dir } = file;

describe('loadConfig', () => {
  it('starts from the three required variables, with documented defaults', () => {
    const config = loadConfig(minimal);
    expect(config.server.port).toBe(4180);
    expect(config.server.keepAliveTimeoutMs).toBe(65_000);
    expect(config.issuer.audiences).toEqual(['nginx-authz']);
    expect(config.issuer.algorithms).not.toContain('HS256');
    expect(config.routes.preset).toBe('mlflow');
    expect(config.client.secret).toBe('s3cret-value');
    expect(Object.isFrozen(config.cache)).toBe(true);
  });

  it('reads YAML or JSON files, with AUTHZ_* overriding the file', () => {
    const yaml = file(
      'c.yaml',
      'server:\n  port: 9000\ncache:\n  denyTtlSeconds: 2\nissuer:\n  url: http://localhost:1/realms/x\nclient:\n  id: from-file\n',
    );
    const config = loadConfig({ AUTHZ_CONFIG: yaml, AUTHZ_PORT: '9100', AUTHZ_AUDIENCES: 'a, b' });
    expect(config.server.port).toBe(9100);
    expect(config.cache.denyTtlSeconds).toBe(2);
    expect(config.client.id).toBe('from-file');
    expect(config.issuer.audiences).toEqual(['a', 'b']);
    const json = file('c.json', JSON.stringify({ issuer: { url: 'https://idp.example/realms/r' }, client: { id: 'j' } }));
    expect(loadConfig({ AUTHZ_CONFIG: json }).issuer.url).toBe('https://idp.example/realms/r');
  });

  it('reads the client secret from a file', () => {
    const secretFile = file('secret', 'from-a-file\n');
    const { AUTHZ_CLIENT_SECRET: _, ...env } = minimal;
    expect(loadConfig({ ...env, AUTHZ_CLIENT_SECRET_FILE: secretFile }).client.secret).toBe('from-a-file');
    expect(problems({ ...minimal, AUTHZ_CLIENT_SECRET_FILE: secretFile })).toEqual([
      'client.secretFile: set either client.secret or client.secretFile, not both',
    ]);
  });

  it('lists every problem at once, naming the option and the bad value', () => {
    const found = problems({
      AUTHZ_ISSUER_URL: 'ftp://idp.example',
      AUTHZ_PORT: 'eighty',
      AUTHZ_CACHE_DENY_TTL_SECONDS: '-1',
      AUTHZ_LOG_LEVEL: 'loud',
      AUTHZ_TYPO: 'x',
    });
    expect(found).toEqual(
      expect.arrayContaining([
        'AUTHZ_PORT: expected a number, got "eighty"',
        expect.stringMatching(/^AUTHZ_TYPO: unknown AUTHZ_\* variable/),
        expect.stringMatching(/^issuer\.url: must be an http\(s\) URL, got "ftp:\/\/idp.example"/),
        'client.id: required (AUTHZ_CLIENT_ID)',
        expect.stringMatching(/^cache\.denyTtlSeconds: .*got -1/),
        expect.stringMatching(/^log\.level: .*got "loud"/),
      ]),
    );
  });

  it('accepts plain http only for loopback issuers unless opted in', () => {
    expect(problems({ ...minimal, AUTHZ_ISSUER_URL: 'http://keycloak.internal/realms/mlflow' })[0]).toMatch(
      /^issuer\.url: plain http is only accepted for loopback/,
    );
    expect(
      loadConfig({ ...minimal, AUTHZ_ISSUER_URL: 'http://keycloak.internal/realms/mlflow', AUTHZ_ALLOW_INSECURE_ISSUER: 'true' }).issuer
        .allowInsecureHttp,
    ).toBe(true);
    expect(loadConfig({ ...minimal, AUTHZ_ISSUER_URL: 'http://localhost:8080/realms/mlflow' }).issuer.url).toBe(
      'http://localhost:8080/realms/mlflow',
    );
  });

  it('refuses HMAC and none as token algorithms', () => {
    const yaml = file('alg.yaml', 'issuer:\n  url: https://idp.example\n  algorithms: [RS256, HS256, none]\nclient:\n  id: c\n');
    const found = problems({ AUTHZ_CONFIG: yaml });
    expect(found.filter((p) => p.startsWith('issuer.algorithms.'))).toHaveLength(2);
  });

  it('never echoes a secret in a problem', () => {
    const yaml = file('s.yaml', 'issuer:\n  url: https://idp.example\nclient:\n  id: c\n  secret: 12345\n');
    const found = problems({ AUTHZ_CONFIG: yaml });
    expect(found.join('\n')).toContain('client.secret');
    expect(found.join('\n')).not.toContain('12345');
  });

  it('reports an unreadable or malformed file', () => {
    expect(problems({ ...minimal, AUTHZ_CONFIG: join(dir, 'missing.yaml') })[0]).toMatch(/^AUTHZ_CONFIG: cannot read .*ENOENT/);
    expect(problems({ ...minimal, AUTHZ_CONFIG: file('bad.yaml', 'a: [') })[0]).toMatch(/^AUTHZ_CONFIG: .* is not valid YAML\/JSON/);
    expect(problems({ ...minimal, AUTHZ_CONFIG: file('list.yaml', '- a') })[0]).toMatch(/mapping at the top level/);
  });
});

describe('UMA options', () => {
  const base = { AUTHZ_ISSUER_URL: 'http://127.0.0.1:8080/realms/x', AUTHZ_CLIENT_ID: 'nginx-authz' };
  it('reads the decision mode and the challenge switch from the environment', () => {
    const config = loadConfig({ ...base, AUTHZ_CLIENT_SECRET: 's', AUTHZ_DECISION_MODE: 'ticket', AUTHZ_UMA_CHALLENGE: 'true' });
    expect(config.decision.mode).toBe('ticket');
    expect(config.uma).toEqual({ challenge: true, perObject: false, resourceIdTtlSeconds: 300, patRenewFraction: 0.8 });
    expect(loadConfig({ ...base, AUTHZ_CLIENT_SECRET: 's', AUTHZ_UMA_PER_OBJECT: 'true' }).uma.perObject).toBe(true);
    expect(loadConfig(base).decision.mode).toBe('decision');
  });
  it('refuses an unknown mode, and ticket mode, the challenge or per-object decisions without a client secret', () => {
    expect(() => loadConfig({ ...base, AUTHZ_DECISION_MODE: 'guess' })).toThrow(/decision\.mode/);
    expect(() => loadConfig({ ...base, AUTHZ_DECISION_MODE: 'ticket' })).toThrow(/client\.secret: required when decision\.mode/);
    expect(() => loadConfig({ ...base, AUTHZ_UMA_CHALLENGE: 'yes' })).toThrow(/client\.secret: required/);
    expect(() => loadConfig({ ...base, AUTHZ_UMA_PER_OBJECT: 'true' })).toThrow(/client\.secret: required.*uma\.perObject/);
    expect(() => loadConfig({ ...base, AUTHZ_ROUTES_FROM_KEYCLOAK: 'true' })).toThrow(/client\.secret: required.*routes\.fromKeycloak/);
    expect(loadConfig({ ...base, AUTHZ_CLIENT_SECRET: 's', AUTHZ_ROUTES_FROM_KEYCLOAK: 'on' }).routes.keycloakScopes).toEqual({
      GET: 'read',
      POST: 'write',
      PUT: 'write',
      PATCH: 'write',
      DELETE: 'delete',
    });
  });
});

describe('every problem at once', () => {
  it('reports the checks that span options even when the schema fails (a misplaced policy hid them)', () => {
    const yaml = file(
      'all.yaml',
      'issuer:\n  url: http://127.0.0.1:8080/realms/mlflow\n  policy:\n    rules: {}\nclient:\n  id: nginx-authz\nserver:\n  port: eighty\nlogin:\n  enabled: true\n',
    );
    expect(problems({ AUTHZ_CONFIG: yaml })).toEqual([
      'server.port: Invalid input: expected number, received string, got "eighty"',
      'issuer.policy: only used when issuer.mode is "claims" or "introspection" (mode is "keycloak-uma")',
      "client.secret: required when login.enabled is on (the authorization code grant runs on the primary issuer's confidential client)",
    ]);
  });

  it('checks the other issuers when one has a broken required option', () => {
    const yaml = file(
      'issuers.yaml',
      'issuers:\n  - id: a\n    url: 5\n    mode: claims\n  - id: b\n    url: http://idp.example/x\n    mode: claims\n    audiences: [x]\n    policy: {rules: {"a#b": {anyOf: [{claim: x, values: [y]}]}}}\n',
    );
    const found = problems({ AUTHZ_CONFIG: yaml });
    expect(found[0]).toBe('issuers.0.url: must be an http(s) URL, got 5');
    expect(found).toContain(
      'issuers.1.url: plain http is only accepted for loopback hosts; got "http://idp.example/x" (use https, or set issuers.1.allowInsecureHttp)',
    );
    expect(found).toContain('issuers.0.policy: required when issuers.0.mode is "claims" (or issuers.0.policyFile)');
    expect(found.some((problem) => problem.includes('placeholder'))).toBe(false);
  });

  it('says only what is wrong with an unreadable file, not that every option in it is missing', () => {
    expect(problems({ AUTHZ_CONFIG: join(dir, 'missing.yaml') })).toEqual([expect.stringMatching(/^AUTHZ_CONFIG: cannot read .*ENOENT/)]);
  });
});

describe('secrets in problems', () => {
  const SECRET = 'SUPER-SECRET-VALUE-123';
  const cases: [string, Record<string, string>][] = [
    [
      'an unknown key beside the secret',
      { AUTHZ_CONFIG: file('k.yaml', `issuer:\n  url: https://idp.example\nclient:\n  id: c\n  secret: ${SECRET}\n  secertFile: /x\n`) },
    ],
    [
      'a secret of the wrong type',
      {
        AUTHZ_CONFIG: file(
          't.yaml',
          `issuer:\n  url: https://idp.example\nclient:\n  id: c\n  secret: [${SECRET}]\nbasic:\n  clientSecret: {v: ${SECRET}}\n`,
        ),
      },
    ],
    ['a session secret too short', { ...minimal, AUTHZ_SESSION_SECRET: SECRET }],
    [
      'a secret beside a wrong sibling in a list',
      {
        AUTHZ_CONFIG: file(
          'l.yaml',
          `issuers:\n  - id: a\n    url: https://idp.example\n    client: {id: c, secret: ${SECRET}, bogus: 1}\n`,
        ),
      },
    ],
    ['a secret as a key', { AUTHZ_CONFIG: file('v.yaml', `issuer:\n  url: https://idp.example\nclient:\n  id: c\n  ${SECRET}:\n`) }],
    [
      'a missing secret file beside an inline secret',
      { ...minimal, AUTHZ_CLIENT_SECRET: SECRET, AUTHZ_CLIENT_SECRET_FILE: join(dir, 'nope') },
    ],
    ['an invalid YAML line holding the secret', { AUTHZ_CONFIG: file('y.yaml', `client:\n  id: c\n  secret:${SECRET}\n`) }],
  ];
  it.each(cases)('never shows it: %s', (_name, env) => {
    const found = problems(env);
    expect(found.length).toBeGreaterThan(0);
    expect(found.join('\n')).not.toContain(SECRET);
  });
});
