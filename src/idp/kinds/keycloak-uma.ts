import { permissionKey, rptPermissions } from '../rpt.js';
import { ALLOWED, type Authorization, type IssuerKind, type TrustedIssuer } from '../trusted-issuer.js';
import { toIdentity, verifyJwt } from './jwt.js';

/**
 * Mode `keycloak-uma`: Keycloak Authorization Services decide. A JWT is verified locally; an
 * RPT holding the route's `resource#scope` is allowed at once (its permissions were verified
 * with it and live as long as it); with `uma.challenge` (the primary), any other token that is
 * not an RPT is sent for one; everything else is asked of Keycloak (the decision cache first).
 */
export const keycloakUma: IssuerKind = (context) => {
  const { settings, provider } = context;
  const decider = context.decider?.(settings, provider);
  const challenger = context.challenger?.(settings);
  const ask: Authorization | undefined = decider === undefined ? undefined : { kind: 'ask', decider };
  const challenge: Authorization | undefined = challenger === undefined ? undefined : { kind: 'challenge', challenger };
  const issuer: TrustedIssuer = {
    settings,
    provider,
    introspects: false,
    takesOpaqueTokens: false,
    keycloakResources: true,
    async verify(token, tokenHash) {
      const payload = await verifyJwt(context, token);
      return toIdentity(issuer, payload, payload.sub, payload.exp * 1000, tokenHash, rptPermissions(payload), undefined);
    },
    authorize(identity, { resource, scope }) {
      if (identity.permissions?.has(permissionKey(resource, scope)) === true) return ALLOWED;
      // An RPT lacking the permission is decided, not challenged again (decide/challenge.ts says why).
      if (challenge !== undefined && identity.permissions === undefined) return challenge;
      if (ask === undefined) throw new Error(`issuer ${settings.id} has no UMA decision client`);
      return ask;
    },
  };
  return issuer;
};
