import type { Config } from '../config/schema.js';
import { Forbidden, IdpUnavailable, Unauthenticated, type AuthzError } from '../errors.js';
import type { Decider } from '../idp/decider.js';
import { idpFetch, readJson } from '../idp/http.js';
import type { IdentityProvider } from '../idp/provider.js';
import { logName, type Logger } from '../log.js';
import type { Metrics } from '../ops/metrics.js';

/** UMA 2.0 grant type (Keycloak Authorization Services, UMA Grant §3.3.1). */
export const UMA_GRANT = 'urn:ietf:params:oauth:grant-type:uma-ticket';

/**
 * Asks Keycloak whether the token's owner holds `resource#scope`: one UMA grant request with
 * `response_mode=decision`, so Keycloak answers yes/no instead of minting an RPT.
 */
export class UmaDecisionClient implements Decider {
  constructor(
    /** The resource server's client (the UMA audience) and the decision timeout; a whole `Config` does. */
    private readonly config: Pick<Config, 'client' | 'decision'>,
    private readonly provider: IdentityProvider,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  /**
   * Resolves when allowed.
   * @throws {Forbidden} `access_denied`, or `route_misconfigured` when Keycloak does not know
   *   the resource/scope/audience (a mis-mapped route must never allow)
   * @throws {Unauthenticated} `invalid_token` when Keycloak rejects the token (revoked, expired)
   * @throws {IdpUnavailable} on timeout, network error or 5xx (fail closed)
   */
  async decide(token: string, resource: string, scope: string, family: string): Promise<void> {
    const endpoints = this.provider.endpoints;
    if (endpoints === undefined) throw new IdpUnavailable({ detail: 'issuer not discovered yet' });

    // URLSearchParams form-encodes every value: path text can never inject a form field.
    const form = new URLSearchParams({
      grant_type: UMA_GRANT,
      audience: this.config.client.id,
      permission: `${resource}#${scope}`,
      response_mode: 'decision',
      submit_request: 'false',
    });
    const response = await idpFetch(
      this.metrics,
      'uma_decision',
      endpoints.tokenEndpoint,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form,
      },
      this.config.decision.timeoutMs,
    );

    const body = await readJson(response, 'uma_decision');
    if (response.status === 200 && body?.result === true) return;
    throw translateUmaRefusal(response.status, body, { resource, scope, family }, this.metrics, this.log);
  }
}

/**
 * Keycloak's answers to a UMA grant become ours here (docs/keycloak-uma.md lists them);
 * shared by both decision modes.
 */
export function translateUmaRefusal(
  status: number,
  body: Record<string, unknown> | undefined,
  target: { resource: string; scope: string; family: string },
  metrics: Metrics,
  log: Logger,
): AuthzError {
  const { resource, scope, family } = target;
  const error = typeof body?.error === 'string' ? body.error : undefined;
  if (status === 200 || status === 403) return new Forbidden('access_denied', { detail: `keycloak: ${error ?? 'result false'}` });
  // A bad, expired or revoked bearer: 401 per the UMA grant, but Keycloak 26.7 answers 400
  // invalid_grant "Invalid bearer token" (seen against the stack's real Keycloak).
  if (status === 401 || (status === 400 && error === 'invalid_grant')) {
    return new Unauthenticated('invalid_token', { detail: `keycloak: ${error ?? 'unauthorized'}` });
  }
  if (status >= 500) return new IdpUnavailable({ detail: `keycloak answered ${status}` });
  if (status === 400) {
    // invalid_resource / invalid_scope: the route table names something Keycloak lacks;
    // invalid_request: usually the audience (our client id) is not a resource server.
    metrics.routeMisconfigured(family, scope, error ?? 'unknown');
    log.error(
      { resource: logName(resource), scope, error },
      'keycloak does not know the mapped resource/scope; refusing (fix the route table or the realm)',
    );
    return new Forbidden('route_misconfigured', { detail: `keycloak: ${error ?? 'bad request'}` });
  }
  return new IdpUnavailable({ detail: `keycloak answered unexpected ${status}` });
}
