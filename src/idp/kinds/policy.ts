import { Forbidden } from '../../errors.js';
import { ClaimsPolicy, type ClaimValues } from '../../policy/claims.js';
import type { IssuerSettings } from '../../config/schema.js';
import { ALLOWED, type Authorization, type Identity, type Permission } from '../trusted-issuer.js';

const NO_CLAIMS: ClaimValues = new Map();

/** The issuer's claims policy (kinds `claims` and `introspection`); config validation makes it present. */
export function claimsPolicyOf(settings: IssuerSettings): ClaimsPolicy {
  return new ClaimsPolicy(settings.policy ?? new Map());
}

/**
 * Decided by the issuer's claims policy (src/policy/claims.ts) from the claim values kept on the
 * identity: allowed, or refused here; never a call.
 * @throws {Forbidden} `access_denied` naming the issuer and the policy's outcome
 */
export function authorizeByPolicy(
  policy: ClaimsPolicy,
  settings: IssuerSettings,
  identity: Identity,
  permission: Permission,
): Authorization {
  const outcome = policy.decide(identity.claims ?? NO_CLAIMS, permission.resource, permission.family, permission.scope);
  if (outcome !== 'allowed') throw new Forbidden('access_denied', { detail: `claims policy of issuer ${settings.id}: ${outcome}` });
  return ALLOWED;
}
