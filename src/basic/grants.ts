import * as oidc from 'openid-client';
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { IdpUnavailable } from '../errors.js';
import { runGrant } from '../idp/grants.js';
import type { IdentityProvider } from '../idp/provider.js';
import type { PasswordGrants } from './exchange.js';

/**
 * The password and refresh grants on `basic.clientId` (by default the realm's public
 * `mlflow-cli` client, the one that allows the password grant; the service's own client does
 * not), built from the metadata the provider discovered, with the same timeout.
 */
export function passwordGrants(config: Config, provider: IdentityProvider, clock: Clock): PasswordGrants {
  let built: { from: oidc.Configuration; client: oidc.Configuration } | undefined;
  const client = (): oidc.Configuration => {
    const discovered = provider.configuration;
    if (discovered === undefined) throw new IdpUnavailable({ detail: 'issuer metadata not loaded yet' });
    if (built?.from !== discovered) {
      const { clientId, clientSecret } = config.basic;
      const auth = clientSecret === undefined ? oidc.None() : oidc.ClientSecretPost(clientSecret);
      const created = new oidc.Configuration(discovered.serverMetadata(), clientId, clientSecret, auth);
      // Plain http was accepted for the issuer by config validation (loopback or explicit opt-in).
      if (new URL(config.issuer.url).protocol === 'http:') oidc.allowInsecureRequests(created);
      created.timeout = Math.ceil(config.decision.timeoutMs / 1000);
      built = { from: discovered, client: created };
    }
    return built.client;
  };
  return {
    password: (username, password) =>
      runGrant(
        () => oidc.genericGrantRequest(client(), 'password', { username, password, scope: config.basic.scope }),
        clock,
        'password grant',
      ),
    refresh: (refreshToken) => runGrant(() => oidc.refreshTokenGrant(client(), refreshToken), clock, 'refresh grant'),
  };
}
