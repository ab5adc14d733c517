import { Introspector } from '../introspection.js';
import type { IssuerKind, TrustedIssuer } from '../trusted-issuer.js';
import { toIdentity } from './jwt.js';
import { authorizeByPolicy, claimsPolicyOf } from './policy.js';

/**
 * Mode `introspection`: the token (opaque or not) is read through RFC 7662 introspection
 * (src/idp/introspection.ts), then the issuer's claims policy decides on the answer's claims.
 * The identity is reused until min(exp, `introspection.cacheMaxSeconds`): the revocation bound.
 */
export const introspection: IssuerKind = (context) => {
  const { settings, provider, metrics, log, clock } = context;
  const policy = claimsPolicyOf(settings);
  const introspector = new Introspector(settings, provider, metrics, log, clock);
  const issuer: TrustedIssuer = {
    settings,
    provider,
    introspects: true,
    takesOpaqueTokens: settings.introspection.opaqueTokens,
    keycloakResources: false,
    async verify(token, tokenHash) {
      const result = await introspector.introspect(token, tokenHash);
      return toIdentity(issuer, result.claims, result.subject, result.reuseUntilMs, tokenHash, undefined, policy);
    },
    authorize: (identity, permission) => authorizeByPolicy(policy, settings, identity, permission),
  };
  return issuer;
};
