import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { IdpUnavailable } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../ops/metrics.js';
import { OneFlight } from '../util/single-flight.js';
import { describe, diagnoseClientRefusal, StartupFailure } from './diagnose.js';
import { idpFetch, readJson } from './http.js';
import type { IdentityProvider } from './provider.js';

interface Pat {
  token: string;
  /** When to start renewing (ms since the epoch): `uma.patRenewFraction` of its lifetime. */
  renewAtMs: number;
  /** When to stop using it: its expiry less a margin for clock skew and the call in flight. */
  usableUntilMs: number;
}

/** A PAT is not used in its last seconds: a call that starts then may arrive after expiry. */
const EXPIRY_MARGIN_MS = 5_000;

/**
 * The protection API access token (PAT): a client-credentials token of the resource-server
 * client, whose service account holds `uma_protection` (Keycloak Authorization Services).
 *
 * Cached, and renewed once `uma.patRenewFraction` of its lifetime has passed: in the
 * background while the current one is still usable (no caller waits), in the foreground
 * when none is. Renewals are single-flight, bounded by `decision.timeoutMs`, and counted as
 * `authz_idp_requests_total{endpoint="pat"}`. The PAT is never logged.
 */
export class PatProvider {
  private current: Pat | undefined;
  private readonly renewal = new OneFlight<string>();

  constructor(
    private readonly config: Config,
    private readonly provider: IdentityProvider,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {}

  /**
   * A usable PAT.
   * @throws {IdpUnavailable} when none can be had (the client cannot authenticate, the IdP is down)
   */
  get(): Promise<string> {
    const now = this.clock();
    const current = this.current;
    if (current !== undefined && now < current.renewAtMs) return Promise.resolve(current.token);
    const renewal = this.renew();
    if (current !== undefined && now < current.usableUntilMs) {
      renewal.catch(() => undefined); // counted and logged in fetch(); the current PAT still serves
      return Promise.resolve(current.token);
    }
    return renewal;
  }

  /** Forgets a PAT the IdP refused (revoked, or the realm's keys rotated), so the next get() renews. */
  invalidate(token: string): void {
    if (this.current?.token === token) this.current = undefined;
  }

  private renew(): Promise<string> {
    return this.renewal.run(() => this.fetch());
  }

  private async fetch(): Promise<string> {
    const endpoints = this.provider.endpoints;
    if (endpoints === undefined) throw new IdpUnavailable({ detail: 'issuer not discovered yet' });
    const { id, secret } = this.config.client;
    if (secret === undefined) throw new IdpUnavailable({ detail: 'pat: client.secret is not configured' });
    // client_secret_basic: id and secret are form-encoded before base64 (RFC 6749 §2.3.1).
    const basic = Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64');
    const started = this.clock();
    const response = await idpFetch(
      this.metrics,
      'pat',
      endpoints.tokenEndpoint,
      {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ grant_type: 'client_credentials' }),
      },
      this.config.decision.timeoutMs,
    );
    const body = (await readJson(response, 'pat')) as
      | { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown }
      | undefined;
    if (response.status !== 200 || typeof body?.access_token !== 'string' || typeof body.expires_in !== 'number' || body.expires_in <= 0) {
      const error = typeof body?.error === 'string' ? body.error : undefined;
      const diagnosis = diagnoseClientRefusal(endpoints.tokenEndpoint, id, response.status, body);
      this.log.error(
        { status: response.status, error, url: diagnosis.url, hint: diagnosis.hint },
        `cannot obtain a PAT (client credentials of the resource server): ${describe(diagnosis)}; protection API calls fail closed`,
      );
      throw new IdpUnavailable({
        detail: `pat: keycloak answered ${response.status}${error === undefined ? '' : ` ${error}`}`,
        cause: new StartupFailure('PAT', diagnosis),
      });
    }
    const lifetimeMs = body.expires_in * 1000;
    this.current = {
      token: body.access_token,
      renewAtMs: started + lifetimeMs * this.config.uma.patRenewFraction,
      usableUntilMs: started + lifetimeMs - EXPIRY_MARGIN_MS,
    };
    return body.access_token;
  }
}
