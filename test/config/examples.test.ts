import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';

// Every documented IdP configuration (examples/idp/) goes through the real loader, so none can rot.
const DIR = fileURLToPath(new URL('../../examples/idp/', import.meta.url));
const files = readdirSync(DIR)
  .filter((name) => name.endsWith('.yaml'))
  .sort();

describe('examples/idp', () => {
  it('documents Keycloak (UMA and claims), Auth0, Okta, Entra ID, Google, Dex, introspection and several issuers', () => {
    expect(files).toEqual([
      'auth0.yaml',
      'dex.yaml',
      'entra-id.yaml',
      'google.yaml',
      'introspection.yaml',
      'keycloak-and-dex.yaml',
      'keycloak-claims.yaml',
      'keycloak-uma.yaml',
      'okta.yaml',
    ]);
  });

  const MODES: Record<string, string[]> = {
    'auth0.yaml': ['claims'],
    'dex.yaml': ['claims'],
    'entra-id.yaml': ['claims'],
    'google.yaml': ['claims'],
    'introspection.yaml': ['introspection'],
    'keycloak-and-dex.yaml': ['keycloak-uma', 'claims'],
    'keycloak-claims.yaml': ['claims'],
    'keycloak-uma.yaml': ['keycloak-uma'],
    'okta.yaml': ['claims'],
  };
  // Secret files live where the service is deployed (/run/secrets/), never in the repository: each
  // example is loaded from a copy whose /run/secrets/<name> paths point at files with a test value,
  // so every example loads completely and its modes are always checked.
  const secrets = mkdtempSync(join(tmpdir(), 'authz-examples-'));
  function deployed(name: string): string {
    const text = readFileSync(`${DIR}${name}`, 'utf8').replace(/\/run\/secrets\/([A-Za-z0-9._-]+)/g, (_, secret: string) => {
      writeFileSync(join(secrets, secret), 'example-secret-for-tests\n');
      return join(secrets, secret);
    });
    const copy = join(secrets, name);
    writeFileSync(copy, text);
    return copy;
  }

  it.each(files)('%s loads through the real config loader', (name) => {
    let problems: string[] = [];
    let config: Config | undefined;
    try {
      config = loadConfig({ AUTHZ_CONFIG: deployed(name) });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems = error.problems;
    }
    expect(problems).toEqual([]);
    expect(config?.issuers.map((issuer) => issuer.mode)).toEqual(MODES[name]);
  });

  it('resolves URL-named claims as one segment (Auth0)', () => {
    const auth0 = loadConfig({ AUTHZ_CONFIG: `${DIR}auth0.yaml` }).issuers[0]!;
    expect(auth0.claims.groups).toEqual(['https://mlflow.example.com/roles']);
    expect(auth0.policy!.get('*#read')!.anyOf![1]!.claim).toEqual(['https://mlflow.example.com/roles']);
  });
});
