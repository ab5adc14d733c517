import type { Config } from '../config/schema.js';
import { AuthzError, Forbidden, IdpUnavailable } from '../errors.js';
import type { ProtectionApi } from '../idp/protection.js';
import type { IdentityProvider } from '../idp/provider.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../ops/metrics.js';
import { permissionKey } from '../idp/rpt.js';
import { hashToken, type TokenVerifier } from '../tokens/verify.js';
import type { Decider } from '../idp/decider.js';
import { idpFetch, readJson } from '../idp/http.js';
import { translateUmaRefusal, UMA_GRANT } from './uma.js';

/**
 * `decision.mode: ticket`, the UMA 2.0 flow as a resource server runs it for its caller: a
 * permission ticket for `resource#scope` from the protection API (with the PAT), then the
 * caller's token + ticket exchanged at the token endpoint for an RPT (UMA Grant §3.3.1).
 * The RPT is verified like any token and must hold the permission; the allow is then cached
 * for the caller's token like any decision (the RPT itself is never handed out or logged).
 *
 * Two IdP calls per miss instead of one (three on a resource id miss): choose it when
 * Keycloak's audit of issued RPTs or ticket-based policies matter more than latency.
 */
export class TicketDecisionClient implements Decider {
  constructor(
    private readonly config: Config,
    private readonly provider: IdentityProvider,
    private readonly protection: ProtectionApi,
    private readonly verifier: TokenVerifier,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  /**
   * Resolves when allowed.
   * @throws {Forbidden} `access_denied` (no RPT, or one without the permission), `route_misconfigured`
   * @throws {Unauthenticated} `invalid_token` when Keycloak rejects the caller's token
   * @throws {IdpUnavailable} on timeout, network error, 5xx, a refused ticket or an RPT that does not verify
   */
  async decide(token: string, resource: string, scope: string, family: string): Promise<void> {
    const endpoints = this.provider.endpoints;
    if (endpoints === undefined) throw new IdpUnavailable({ detail: 'issuer not discovered yet' });
    const ticket = await this.protection.ticket(resource, scope, family);
    const response = await idpFetch(
      this.metrics,
      'uma_ticket',
      endpoints.tokenEndpoint,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ grant_type: UMA_GRANT, ticket, submit_request: 'false' }),
      },
      this.config.decision.timeoutMs,
    );
    const body = await readJson(response, 'uma_ticket');

    if (response.status === 200) {
      if (typeof body?.access_token !== 'string') throw new IdpUnavailable({ detail: 'uma_ticket: 200 without an RPT' });
      const granted = await this.verifyRpt(body.access_token);
      if (granted?.has(permissionKey(resource, scope)) !== true)
        throw new Forbidden('access_denied', { detail: 'the RPT lacks the requested permission' });
      return;
    }
    // 403 invalid_ticket: Keycloak refused the ticket we just made (expired, or keys rotated
    // between the two calls): the IdP's problem, not the caller's; never cached.
    if (response.status === 403 && body?.error === 'invalid_ticket')
      throw new IdpUnavailable({ detail: 'uma_ticket: keycloak refused the permission ticket' });
    throw translateUmaRefusal(response.status, body, { resource, scope, family }, this.metrics, this.log);
  }

  /** The RPT came from the IdP over the back channel, but is still checked in full (signature, iss, aud, exp). */
  private async verifyRpt(rpt: string): Promise<ReadonlySet<string> | undefined> {
    try {
      return (await this.verifier.verifyFresh(rpt, hashToken(rpt))).permissions;
    } catch (error) {
      if (error instanceof AuthzError && error.status === 503) throw error;
      throw new IdpUnavailable({ detail: `uma_ticket: the RPT does not verify (${error instanceof AuthzError ? error.detail : 'error'})` });
    }
  }
}
