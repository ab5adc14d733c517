import * as oidc from 'openid-client';
import { createRemoteJWKSet, customFetch, type JWTVerifyGetKey } from 'jose';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../ops/metrics.js';
import { withoutUserinfo } from '../config/problems.js';
import { describe, diagnoseDiscovery, discoveryOutcome, networkDiagnosis, StartupFailure, type Diagnosis } from './diagnose.js';
import { idpFetch } from './http.js';

/** What the service needs from the issuer's metadata. */
export interface IssuerEndpoints {
  issuer: string;
  tokenEndpoint: string;
  jwksUri: string;
  /** RFC 7662 endpoint, when the issuer publishes one (`introspection_endpoint`). */
  introspectionEndpoint: string | undefined;
}

type RemoteJwks = ReturnType<typeof createRemoteJWKSet>;

/** The longest wait between two discovery attempts (unless discoveryRetryMs is longer). */
export const MAX_RETRY_MS = 30_000;

/**
 * The identity provider as the service sees it: metadata from OIDC discovery
 * (openid-client) and the signing keys (jose's remote JWKS, which refetches on an unknown
 * `kid` at most once per cooldown and shares one pending fetch between callers).
 *
 * Discovery is retried in the background until it succeeds, with a backoff that doubles from
 * `issuer.discoveryRetryMs` up to {@link MAX_RETRY_MS}; until then the service is not ready
 * (`problem` says why, for /readyz and the log) and every decision fails closed with 503.
 */
export class IdentityProvider {
  private state: { endpoints: IssuerEndpoints; jwks: RemoteJwks; configuration: oidc.Configuration } | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private started: Promise<void> | undefined;
  private failure: Diagnosis | undefined;
  private lastJwksStatus: number | undefined;

  constructor(
    /** The issuer's own options and client: a whole `Config` (the primary's) or one issuer's `IssuerSettings`. */
    private readonly config: Pick<Config, 'issuer' | 'client'>,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  /** Resolves once discovery and the first key fetch succeed; keeps retrying until then. Idempotent. */
  start(): Promise<void> {
    this.started ??= new Promise((resolve) => {
      let attempt = 0;
      const next = (): void => {
        attempt++;
        this.discover().then(resolve, (error: unknown) => {
          const { step, diagnosis } =
            error instanceof StartupFailure
              ? error
              : new StartupFailure('issuer discovery', networkDiagnosis(error, this.config.issuer.url));
          this.failure = diagnosis;
          const base = this.config.issuer.discoveryRetryMs;
          const retryInMs = Math.min(base * 2 ** Math.min(attempt - 1, 16), Math.max(base, MAX_RETRY_MS));
          this.log.error(
            {
              issuer: withoutUserinfo(this.config.issuer.url),
              url: diagnosis.url,
              outcome: diagnosis.outcome,
              hint: diagnosis.hint,
              attempt,
              retryInMs,
            },
            `${step} failed: ${describe(diagnosis)}; retrying in ${Math.round(retryInMs / 1000)} s`,
          );
          if (!this.stopped) this.retryTimer = setTimeout(next, retryInMs);
        });
      };
      next();
    });
    return this.started;
  }

  /**
   * One attempt, no retry (for `--check`).
   * @throws {StartupFailure} saying which URL failed, how, and what to check
   */
  async discoverOnce(): Promise<void> {
    if (this.state === undefined) await this.discover();
  }

  /** Why the issuer is not ready yet (the last attempt's failure); undefined once ready or before the first attempt ends. */
  get problem(): string | undefined {
    if (this.state !== undefined) return undefined;
    return this.failure === undefined ? undefined : describe(this.failure);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
  }

  get ready(): boolean {
    return this.state !== undefined;
  }

  /** @returns undefined until discovery has succeeded. */
  get endpoints(): IssuerEndpoints | undefined {
    return this.state?.endpoints;
  }

  /** The key resolver for jose's jwtVerify; undefined until discovery has succeeded. */
  get keys(): JWTVerifyGetKey | undefined {
    return this.state?.jwks;
  }

  /** The loaded signing keys as `kid (alg)`, for `--check`; empty until discovery has succeeded. */
  get keyIds(): string[] {
    return (this.state?.jwks.jwks()?.keys ?? [])
      .filter((key) => key.use !== 'enc')
      .map((key) => `${key.kid ?? '(no kid)'} (${key.alg ?? key.kty ?? '?'})`);
  }

  /** openid-client's view of the issuer and this client, for grants it implements. */
  get configuration(): oidc.Configuration | undefined {
    return this.state?.configuration;
  }

  private async discover(): Promise<void> {
    const { issuer, client } = this.config;
    const insecure = new URL(issuer.url).protocol === 'http:';
    const started = performance.now();
    let configuration: oidc.Configuration;
    try {
      configuration = await oidc.discovery(new URL(issuer.url), client.id, client.secret, undefined, {
        // Plain http was accepted by config validation (loopback, or an explicit opt-in).
        execute: insecure ? [oidc.allowInsecureRequests] : [],
        timeout: Math.ceil(issuer.httpTimeoutMs / 1000),
      });
      // The same outcome set as every other IdP call (idp/http.ts): discovery succeeds only on a 200.
      this.metrics.idpRequests.labels('discovery', 'http_200').inc();
    } catch (error) {
      this.metrics.idpRequests.labels('discovery', discoveryOutcome(error)).inc();
      throw new StartupFailure('issuer discovery', diagnoseDiscovery(error, issuer.url, issuer.httpTimeoutMs));
    } finally {
      this.metrics.idpDuration.labels('discovery').observe((performance.now() - started) / 1000);
    }

    const metadata = configuration.serverMetadata();
    if (metadata.jwks_uri === undefined || metadata.token_endpoint === undefined) {
      throw new StartupFailure('issuer discovery', {
        url: configuration.serverMetadata().issuer,
        outcome: 'the metadata lacks jwks_uri or token_endpoint',
        hint: 'is this an OpenID provider that issues JWTs?',
      });
    }
    const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri), {
      timeoutDuration: issuer.httpTimeoutMs,
      cooldownDuration: issuer.jwksCooldownMs,
      cacheMaxAge: issuer.jwksCacheMaxAgeMs,
      [customFetch]: async (url, options) => {
        try {
          const response = await idpFetch(this.metrics, 'jwks', url, options as RequestInit, issuer.httpTimeoutMs);
          this.lastJwksStatus = response.status;
          this.metrics.jwksRefreshes.labels(response.ok ? 'ok' : 'error').inc();
          return response;
        } catch (error) {
          this.metrics.jwksRefreshes.labels('error').inc();
          throw error;
        }
      },
    });
    try {
      this.lastJwksStatus = undefined;
      await jwks.reload(); // ready means keys are loaded, not merely that their address is known
    } catch (error) {
      throw new StartupFailure('signing keys', this.diagnoseJwks(error, metadata.jwks_uri));
    }
    this.state = {
      endpoints: {
        issuer: metadata.issuer,
        tokenEndpoint: metadata.token_endpoint,
        jwksUri: metadata.jwks_uri,
        introspectionEndpoint: typeof metadata.introspection_endpoint === 'string' ? metadata.introspection_endpoint : undefined,
      },
      jwks,
      configuration,
    };
    this.failure = undefined;
    this.log.info({ issuer: metadata.issuer }, 'issuer discovered and keys loaded');
  }

  private diagnoseJwks(error: unknown, url: string): Diagnosis {
    const status = this.lastJwksStatus;
    if (status !== undefined && status !== 200)
      return {
        url,
        outcome: `HTTP ${status}`,
        hint: status >= 500 ? 'the IdP is failing or still starting' : 'the jwks_uri of the metadata does not serve keys',
      };
    if ((error as { code?: string }).code === 'ERR_JWKS_INVALID') return { url, outcome: 'not a JSON Web Key Set', hint: undefined };
    return networkDiagnosis(error, url, this.config.issuer.url);
  }
}
