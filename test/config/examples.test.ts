import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';

// Every documented IdP configuration (examples/idp/) goes through the real loader, so none can rot.
const DIR = fileURLToPath(new URL('../../examples/idp/', import.meta.url));
const files = readdirSync(DIR).filter((name) => name.endsWith('.yaml')).sort();

describe('examples/idp', () => {
  it('documents Keycloak (UMA and claims), Auth0, Okta, Entra ID, Google, Dex, introspection and several issuers', () => {
    expect(files).toEqual(['auth0.yaml', 'dex.yaml', 'entra-id.yaml', 'google.yaml', 'introspection.yaml', 'keycloak-and-dex.yaml', 'keycloak-claims.yaml', 'keycloak-uma.yaml', 'okta.yaml']);
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
  it.each(files)('%s loads through the real config loader', (name) => {
    const problems: string[] = [];
    let config: Config | undefined;
    try {
      config = loadConfig({ AUTHZ_CONFIG: `${DIR}${name}` });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...error.problems);
    }
    // Secret files live where the service is deployed, never in the repository.
    expect(problems.filter((problem) => !/\.secretFile: cannot read "\/run\/secrets\//.test(problem))).toEqual([]);
    if (config !== undefined) expect(config.issuers.map((issuer) => issuer.mode)).toEqual(MODES[name]);
  });

  it('resolves URL-named claims as one segment (Auth0)', () => {
    const auth0 = loadConfig({ AUTHZ_CONFIG: `${DIR}auth0.yaml` }).issuers[0]!;
    expect(auth0.claims.groups).toEqual(['https://mlflow.example.com/roles']);
    expect(auth0.policy!.get('*#read')!.anyOf![1]!.claim).toEqual(['https://mlflow.example.com/roles']);
  });
});
