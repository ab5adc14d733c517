import type { Clock } from '../clock.js';
import type { IssuerSettings } from '../config/schema.js';
import { IdpUnavailable, Unauthenticated } from '../errors.js';
import type { Logger } from '../log.js';
import { MeteredLru } from '../ops/metered-lru.js';
import type { Metrics } from '../ops/metrics.js';
import { SingleFlight } from '../util/single-flight.js';
import { idpFetch, readJson } from './http.js';
import type { IdentityProvider } from './provider.js';

/** What an active introspection answer yields: the claims, for the caller to keep only what it needs. */
export interface IntrospectionResult {
  claims: Readonly<Record<string, unknown>>;
  subject: string;
  /** Until when the answer may be reused: min(the token's exp, now + `introspection.cacheMaxSeconds`). */
  reuseUntilMs: number;
}

/**
 * RFC 7662 token introspection for opaque tokens: a client-authenticated POST
 * (`client_secret_basic`, RFC 6749 §2.3.1), a timeout, one call per token at a time, and a
 * short negative cache so a flood of one revoked or made-up token costs one call per
 * `introspection.negativeCacheSeconds`. Active answers are cached by the token verifier (the
 * identity cache) until {@link IntrospectionResult.reuseUntilMs}: that is the revocation bound.
 */
export class Introspector {
  private readonly inactive: MeteredLru<number>;
  private readonly flights = new SingleFlight<string, IntrospectionResult>();
  private readonly results;

  constructor(
    private readonly settings: IssuerSettings,
    private readonly provider: IdentityProvider,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {
    // Keys are token hashes (fixed length) and values numbers: ≈ 250 bytes an entry.
    this.inactive = new MeteredLru(
      'introspection_negative',
      { maxEntries: settings.introspection.negativeMaxEntries, maxBytes: settings.introspection.negativeMaxEntries * 300 },
      metrics,
    );
    this.results = {
      active: metrics.introspectionRequests.labels(settings.id, 'active'),
      inactive: metrics.introspectionRequests.labels(settings.id, 'inactive'),
      error: metrics.introspectionRequests.labels(settings.id, 'error'),
    };
  }

  /**
   * @throws {Unauthenticated} `invalid_token` when the token is not active (also from the negative cache)
   * @throws {IdpUnavailable} when the endpoint cannot answer or refuses our client (fail closed, not cached)
   */
  async introspect(token: string, tokenHash: string): Promise<IntrospectionResult> {
    const now = this.clock();
    if (this.inactive.lookup(tokenHash, (until) => until > now) !== undefined) {
      throw new Unauthenticated('invalid_token', { detail: 'introspection: inactive (remembered)' });
    }
    return this.flights.run(tokenHash, () => this.call(token, tokenHash));
  }

  private async call(token: string, tokenHash: string): Promise<IntrospectionResult> {
    const endpoint = this.settings.introspection.endpoint ?? this.provider.endpoints?.introspectionEndpoint;
    if (endpoint === undefined) {
      this.results.error.inc();
      throw new IdpUnavailable({
        detail: this.provider.ready
          ? 'issuer publishes no introspection_endpoint (set introspection.endpoint)'
          : 'issuer not discovered yet',
      });
    }
    const { id, secret } = this.settings.client;
    // RFC 6749 §2.3.1: both parts form-encoded before base64.
    const basic = Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret ?? '')}`).toString('base64');
    let response: Response;
    let body: Record<string, unknown> | undefined;
    try {
      response = await idpFetch(
        this.metrics,
        'introspection',
        endpoint,
        {
          method: 'POST',
          headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
        },
        this.settings.introspection.timeoutMs,
      );
      body = await readJson(response, 'introspection');
    } catch (error) {
      this.results.error.inc();
      throw error;
    }
    if (response.status !== 200 || body === undefined) {
      this.results.error.inc();
      // 401/403: our client credentials were refused, a deployment error; nothing the caller can fix.
      if (response.status === 401 || response.status === 403)
        this.log.error(
          { issuer: this.settings.id, status: response.status },
          "introspection endpoint refused this service's client credentials",
        );
      throw new IdpUnavailable({ detail: `introspection answered ${response.status}` });
    }
    const refusal = this.check(body);
    if (refusal !== undefined) {
      this.results.inactive.inc();
      this.inactive.set(tokenHash, this.clock() + this.settings.introspection.negativeCacheSeconds * 1000);
      throw new Unauthenticated('invalid_token', { detail: `introspection: ${refusal}` });
    }
    this.results.active.inc();
    const subject = (typeof body.sub === 'string' && body.sub !== '' ? body.sub : body.client_id) as string;
    const now = this.clock();
    const maxMs = now + this.settings.introspection.cacheMaxSeconds * 1000;
    const reuseUntilMs = typeof body.exp === 'number' ? Math.min(body.exp * 1000, maxMs) : maxMs;
    return { claims: body, subject, reuseUntilMs };
  }

  /** Why an answer does not authorize anything, or undefined when it does (RFC 7662 §2.2, §4). */
  private check(body: Record<string, unknown>): string | undefined {
    if (body.active !== true) return 'inactive';
    const nowSec = this.clock() / 1000;
    const skew = this.settings.issuer.clockToleranceSeconds;
    if (typeof body.exp === 'number' && body.exp + skew <= nowSec) return 'expired';
    if (typeof body.nbf === 'number' && body.nbf - skew > nowSec) return 'not yet valid';
    const issuer = this.provider.endpoints?.issuer;
    if (body.iss !== undefined && issuer !== undefined && body.iss !== issuer) return 'issued by another issuer';
    // An audience, when the answer has one, must name this service: a token for another API is not ours to honour.
    if (body.aud !== undefined) {
      const audiences = Array.isArray(body.aud) ? body.aud : [body.aud];
      if (!audiences.some((aud) => this.settings.issuer.audiences.includes(aud as string))) return 'audience is not this service';
    }
    // Keycloak says `typ`, others `token_type`: a refresh or ID token authorizes no request.
    const kind = body.typ ?? body.token_type;
    if (kind !== undefined && String(kind).toLowerCase() !== 'bearer' && String(kind).toLowerCase() !== 'access_token')
      return `token type ${String(kind)}`;
    const subject = body.sub ?? body.client_id;
    if (typeof subject !== 'string' || subject === '') return 'no sub or client_id';
    return undefined;
  }
}
