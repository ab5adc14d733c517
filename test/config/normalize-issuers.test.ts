import { loadConfig } from '../../src/config/load.js';
import { configFiles, problemsOf } from '../helpers/config.js';

const file = configFiles('authz-issuers-');
let n = 0;
const yamlFile = (text: string): string => file(`c${n++}.yaml`, text);
const load = (text: string, env: Record<string, string> = {}) => loadConfig({ AUTHZ_CONFIG: yamlFile(text), ...env });
const problems = (text: string, env: Record<string, string> = {}): string[] => problemsOf(() => load(text, env));

const DEX = `
  - id: dex
    url: https://dex.example.com
    mode: claims
    audiences: [mlflow]
    policy:
      rules:
        "*#read": { anyOf: [{ claim: groups, values: [mlflow-viewers] }] }
`;

describe('issuers', () => {
  it('keeps the issuer:/client: shorthand as the primary keycloak-uma issuer', () => {
    const config = loadConfig({ AUTHZ_ISSUER_URL: 'http://127.0.0.1:8080/realms/mlflow/', AUTHZ_CLIENT_ID: 'nginx-authz' });
    expect(config.issuers).toHaveLength(1);
    expect(config.issuers[0]).toMatchObject({ id: 'primary', mode: 'keycloak-uma', client: { id: 'nginx-authz' }, policy: undefined });
    expect(config.issuers[0]!.issuer).toBe(config.issuer);
    expect(config.issuer.url).toBe('http://127.0.0.1:8080/realms/mlflow');
    expect(config.issuers[0]!.claims).toEqual({ username: ['preferred_username'], email: ['email'], groups: ['groups'] });
  });

  it('lists more issuers after the primary, each with its own mode, audiences, claims and policy', () => {
    const config = load(`
issuer: { url: "https://kc.example.com/realms/mlflow" }
client: { id: nginx-authz }
issuers:${DEX}
  - id: auth0
    url: https://tenant.auth0.com/
    mode: claims
    audiences: [https://mlflow.example.com]
    claims: { username: nickname, groups: ["https://example.com/groups"] }
    policy:
      rules:
        "experiments#read": { anyOf: [{ claim: ["https://example.com/roles"], values: [viewer] }, { claim: scope, values: ["read:mlflow"] }] }
  - id: opaque
    url: https://as.example.com
    mode: introspection
    client: { id: rs, secret: rs-secret }
    introspection: { cacheMaxSeconds: 30 }
    policy: { rules: { "*#*": { anyOf: [{ claim: scope, values: [mlflow] }] } } }
`);
    expect(config.issuers.map((issuer) => [issuer.id, issuer.mode])).toEqual([
      ['primary', 'keycloak-uma'],
      ['dex', 'claims'],
      ['auth0', 'claims'],
      ['opaque', 'introspection'],
    ]);
    const auth0 = config.issuers[2]!;
    expect(auth0.issuer.url).toBe('https://tenant.auth0.com');
    expect(auth0.claims).toEqual({ username: ['nickname'], email: ['email'], groups: ['https://example.com/groups'] });
    expect(auth0.policy!.get('experiments#read')!.anyOf![0]!.claim).toEqual(['https://example.com/roles']);
    expect(config.issuers[3]!.issuer.audiences).toEqual(['rs']);
    expect(config.issuers[3]!.introspection).toMatchObject({ cacheMaxSeconds: 30, negativeCacheSeconds: 10, opaqueTokens: true });
    expect(config.client.id).toBe('nginx-authz');
  });

  it('takes the first of issuers: as the primary when there is no shorthand', () => {
    const config = load(`issuers:${DEX}`);
    expect(config.issuer.url).toBe('https://dex.example.com');
    expect(config.issuers[0]!.id).toBe('dex');
  });

  it('switches the shorthand to claims mode by configuration alone (AUTHZ_ISSUER_MODE)', () => {
    const policy = yamlFile('rules:\n  "*#read": { anyOf: [{ claim: scope, values: [mlflow:read] }] }\n');
    const config = load(`issuer: { url: "https://op.example.com", policyFile: ${JSON.stringify(policy)} }\nclient: { id: nginx-authz }\n`, {
      AUTHZ_ISSUER_MODE: 'claims',
    });
    expect(config.issuers[0]!.mode).toBe('claims');
    expect([...config.issuers[0]!.policy!.keys()]).toEqual(['*#read']);
  });

  it('names an unknown mode', () => {
    expect(problems(`issuers:\n  - { id: x, url: "https://x.example", mode: guess, audiences: [a] }\n`)).toEqual([
      expect.stringMatching(/^issuers\.0\.mode: .*"keycloak-uma".*got "guess"/),
    ]);
    expect(problems('', { AUTHZ_ISSUER_URL: 'https://x.example', AUTHZ_CLIENT_ID: 'c', AUTHZ_ISSUER_MODE: 'saml' })).toEqual([
      expect.stringMatching(/^issuer\.mode: .*got "saml"/),
    ]);
  });

  it('names a missing or ambiguous claim path', () => {
    const found = problems(`issuers:
  - id: x
    url: https://x.example
    mode: claims
    audiences: [a]
    claims: { groups: "https://example.com/groups" }
    policy:
      rules:
        "experiments#read": { anyOf: [{ values: [viewers] }] }
        "experiments#write": { anyOf: [{ claim: "a..b", values: [v] }] }
        "experiments#delete": {}
        "experiments": { anyOf: [{ claim: groups, values: [v] }] }
`);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^issuers\.0\.claims\.groups: .*list of path segments/),
        expect.stringMatching(/^issuers\.0\.policy\.rules\.experiments#read\.anyOf\.0\.claim: /),
        expect.stringMatching(/^issuers\.0\.policy\.rules\.experiments#write\.anyOf\.0\.claim: /),
        expect.stringMatching(/^issuers\.0\.policy\.rules\.experiments#delete: needs anyOf or allOf/),
        expect.stringMatching(/^issuers\.0\.policy\.rules\.experiments: .*resource#scope/),
      ]),
    );
    expect(found).toHaveLength(5);
  });

  it('refuses a claims or introspection issuer without a policy, and a policy where it is not used', () => {
    expect(problems(`issuers:\n  - { id: x, url: "https://x.example", mode: claims, audiences: [a] }\n`)).toEqual([
      'issuers.0.policy: required when issuers.0.mode is "claims" (or issuers.0.policyFile)',
    ]);
    expect(
      problems(
        `issuer: { url: "https://x.example", policy: { rules: { "*#*": { anyOf: [{ claim: a, values: [b] }] } } } }\nclient: { id: c }\n`,
      ),
    ).toEqual(['issuer.policy: only used when issuer.mode is "claims" or "introspection" (mode is "keycloak-uma")']);
  });

  it('refuses a duplicate issuer, by id or by URL', () => {
    const found = problems(`issuer: { url: "https://dex.example.com/" }\nclient: { id: c }\nissuers:${DEX}${DEX}`);
    expect(found).toEqual([
      'issuers.0.url: duplicate issuer "https://dex.example.com" (also issuer): one entry per issuer',
      'issuers.1.id: duplicate issuer id "dex" (also issuers.0)',
      'issuers.1.url: duplicate issuer "https://dex.example.com" (also issuer): one entry per issuer',
    ]);
  });

  it('names the client each mode needs, and the one issuer that may take opaque tokens', () => {
    const found = problems(`issuers:
  - { id: kc, url: "https://kc.example/realms/a" }
  - { id: i1, url: "https://i1.example", mode: introspection, client: { id: rs }, policy: { rules: { "*#*": { anyOf: [{ claim: scope, values: [x] }] } } } }
  - { id: i2, url: "https://i2.example", mode: introspection, client: { id: rs, secret: s }, policy: { rules: { "*#*": { anyOf: [{ claim: scope, values: [x] }] } } } }
  - { id: c1, url: "https://c1.example", mode: claims, policy: { rules: { "*#*": { anyOf: [{ claim: scope, values: [x] }] } } } }
`);
    expect(found).toEqual([
      'issuers.0.client.id: required when issuers.0.mode is "keycloak-uma" (the resource server\'s client)',
      'issuers.0.audiences: required when the issuer has no client (tokens must name this service in aud)',
      'issuers.1.client.secret: required when issuers.1.mode is "introspection" (RFC 7662 calls are client-authenticated)',
      'issuers.3.audiences: required when the issuer has no client (tokens must name this service in aud)',
      'issuers.2.introspection.opaqueTokens: only one issuer may take opaque tokens (also issuers.1); set it false on all but one',
    ]);
  });

  it('keeps Keycloak-only features on a keycloak-uma primary', () => {
    expect(problems(`issuers:${DEX}`, { AUTHZ_DECISION_MODE: 'ticket' })).toEqual([
      expect.stringMatching(/^issuers\.0\.mode: must be "keycloak-uma" when decision\.mode is "ticket"/),
    ]);
  });

  it('requires issuer.url and client.id when no issuers are listed', () => {
    expect(problems('server: { port: 1 }\n')).toEqual(['issuer.url: required (AUTHZ_ISSUER_URL)', 'client.id: required (AUTHZ_CLIENT_ID)']);
    expect(problems('issuers: []\n')).toEqual(['issuer.url: required (AUTHZ_ISSUER_URL)', 'client.id: required (AUTHZ_CLIENT_ID)']);
  });

  it('reports a policy file that is missing or malformed', () => {
    const bad = yamlFile('rules:\n  "x#y": { anyOf: [{ claim: 1, values: [] }] }\n');
    const found = problems(
      `issuers:\n  - { id: x, url: "https://x.example", mode: claims, audiences: [a], policyFile: ${JSON.stringify(bad)} }\n  - { id: y, url: "https://y.example", mode: claims, audiences: [a], policyFile: /nonexistent.yaml }\n`,
    );
    expect(found[0]).toMatch(/^issuers\.0\.policyFile \(.*\): rules\.x#y\.anyOf\.0\.claim: /);
    expect(found).toContainEqual(expect.stringMatching(/^issuers\.0\.policyFile \(.*\): rules\.x#y\.anyOf\.0\.values: /));
    expect(found).toContainEqual('issuers.1.policyFile: cannot read "/nonexistent.yaml" (ENOENT)');
  });
});
