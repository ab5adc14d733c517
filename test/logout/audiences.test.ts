/** src/logout/audiences.ts: which `aud` a back-channel logout token from each issuer may carry. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { logoutAudiences } from '../../src/logout/audiences.js';

function configFrom(yaml: string, env: Record<string, string> = {}) {
  const file = join(mkdtempSync(join(tmpdir(), 'authz-audiences-')), 'c.yaml');
  writeFileSync(file, yaml);
  return loadConfig({ AUTHZ_CONFIG: file, ...env });
}

const TWO_ISSUERS = [
  'issuer: { url: "http://127.0.0.1:1/realms/main", audiences: [mlflow-api] }',
  'client: { id: nginx-authz, secret: s }',
  'basic: { clientId: mlflow-cli }',
  'logout: { audiences: [portal] }',
  'issuers:',
  '  - id: partner',
  '    url: "http://127.0.0.1:2/realms/partner"',
  '    mode: claims',
  '    audiences: [partner-api]',
  '    client: { id: partner-client }',
  '    policy: { rules: { "*#*": { anyOf: [{ claim: g, values: [v] }] } } }',
  '',
].join('\n');

describe('logoutAudiences', () => {
  it('the primary issuer: its client, its accepted audiences, logout.audiences and the Basic client', () => {
    const config = configFrom(TWO_ISSUERS);
    expect(logoutAudiences(config, config.issuers[0]!).sort()).toEqual(['mlflow-api', 'mlflow-cli', 'nginx-authz', 'portal']);
  });

  it('another issuer: its own client and audiences and logout.audiences, never the primary’s Basic client', () => {
    const config = configFrom(TWO_ISSUERS);
    const partner = config.issuers.find((issuer) => issuer.id === 'partner')!;
    expect(logoutAudiences(config, partner).sort()).toEqual(['partner-api', 'partner-client', 'portal']);
  });

  it('names each audience once when the lists overlap', () => {
    const config = configFrom(
      [
        'issuer: { url: "http://127.0.0.1:1/realms/main", audiences: [nginx-authz, mlflow-cli] }',
        'client: { id: nginx-authz, secret: s }',
        'basic: { clientId: mlflow-cli }',
        'logout: { audiences: [nginx-authz] }',
        '',
      ].join('\n'),
    );
    expect(logoutAudiences(config, config.issuers[0]!).sort()).toEqual(['mlflow-cli', 'nginx-authz']);
  });
});
