import type { IssuerKind, TrustedIssuer } from '../trusted-issuer.js';
import { toIdentity, verifyJwt } from './jwt.js';
import { authorizeByPolicy, claimsPolicyOf } from './policy.js';

/**
 * Mode `claims`: a JWT verified locally is decided by the issuer's claims policy from its own
 * claims, with no call and no decision cache. RPT permissions are Keycloak's and not read here.
 */
export const claims: IssuerKind = (context) => {
  const { settings, provider } = context;
  const policy = claimsPolicyOf(settings);
  const issuer: TrustedIssuer = {
    settings,
    provider,
    introspects: false,
    takesOpaqueTokens: false,
    keycloakResources: false,
    async verify(token, tokenHash) {
      const payload = await verifyJwt(context, token);
      return toIdentity(issuer, payload, payload.sub, payload.exp * 1000, tokenHash, undefined, policy);
    },
    authorize: (identity, permission) => authorizeByPolicy(policy, settings, identity, permission),
  };
  return issuer;
};
