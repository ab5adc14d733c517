import { IdpUnavailable, PermissionTicketChallenge } from '../errors.js';
import type { ProtectionApi } from '../idp/protection.js';
import type { IdentityProvider } from '../idp/provider.js';

/**
 * The UMA challenge (`uma.challenge: true`; UMA 2.0 Grant §3.2): a caller whose bearer token
 * is not an RPT gets a permission ticket for the route's `resource#scope` instead of a
 * decision, and trades it, with its own token, for an RPT at the authorization server
 * (`as_uri`, the issuer), then retries with the RPT.
 *
 * Which answer carries what:
 * - no token at all: the plain Bearer challenge (RFC 6750 §3): the caller must log in first;
 * - a token that is not an RPT: 401 `WWW-Authenticate: UMA realm=…, as_uri=…, ticket=…`;
 * - an RPT holding the permission: allowed locally (no call);
 * - an RPT lacking it: a normal decision, 403 when denied. Not a new ticket: Keycloak would
 *   evaluate the same policies for it and refuse the RPT, so the client would loop
 *   401 → 403 from Keycloak; and a permission granted since the RPT was minted is still
 *   honoured by the decision. (UMA allows either; Keycloak's own policy enforcer also decides.)
 */
export class UmaChallenger {
  constructor(
    private readonly provider: IdentityProvider,
    private readonly protection: ProtectionApi,
  ) {}

  /**
   * @throws {PermissionTicketChallenge} always, carrying a fresh ticket
   * @throws {Forbidden} `route_misconfigured` / {@link IdpUnavailable} when no ticket can be made
   */
  async challenge(resource: string, scope: string, family: string): Promise<never> {
    const issuer = this.provider.endpoints?.issuer;
    if (issuer === undefined) throw new IdpUnavailable({ detail: 'issuer not discovered yet' });
    const ticket = await this.protection.ticket(resource, scope, family);
    throw new PermissionTicketChallenge(ticket, issuer);
  }
}
