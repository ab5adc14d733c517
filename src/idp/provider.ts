import * as oidc from 'openid-client';
import { createRemoteJWKSet, customFetch, type JWTVerifyGetKey } from 'jose';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../ops/metrics.js';
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

/**
 * The identity provider as the service sees it: metadata from OIDC discovery
 * (openid-client) and the signing keys (jose's remote JWKS, which refetches on an unknown
 * `kid` at most once per cooldown and shares one pending fetch between callers).
 *
 * Discovery is retried in the background until it succeeds; until then the service is not
 * ready and every decision fails closed with 503.
 */
export class IdentityProvider {
  private state: { endpoints: IssuerEndpoints; jwks: RemoteJwks; configuration: oidc.Configuration } | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private started: Promise<void> | undefined;

  constructor(
    private readonly config: Config,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  /** Resolves once discovery and the first key fetch succeed; keeps retrying until then. Idempotent. */
  start(): Promise<void> {
    this.started ??= new Promise((resolve) => {
      const attempt = (): void => {
        this.discover().then(resolve, (error: unknown) => {
          this.log.error({ err: { message: (error as Error).message }, issuer: this.config.issuer.url }, 'issuer discovery failed; retrying');
          if (!this.stopped) this.retryTimer = setTimeout(attempt, this.config.issuer.discoveryRetryMs);
        });
      };
      attempt();
    });
    return this.started;
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
      this.metrics.idpRequests.labels('discovery', 'ok').inc();
    } catch (error) {
      this.metrics.idpRequests.labels('discovery', 'error').inc();
      throw error;
    } finally {
      this.metrics.idpDuration.labels('discovery').observe((performance.now() - started) / 1000);
    }

    const metadata = configuration.serverMetadata();
    if (metadata.jwks_uri === undefined || metadata.token_endpoint === undefined) {
      throw new Error('issuer metadata lacks jwks_uri or token_endpoint');
    }
    const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri), {
      timeoutDuration: issuer.httpTimeoutMs,
      cooldownDuration: issuer.jwksCooldownMs,
      cacheMaxAge: issuer.jwksCacheMaxAgeMs,
      [customFetch]: async (url, options) => {
        try {
          const response = await idpFetch(this.metrics, 'jwks', url, options as RequestInit, issuer.httpTimeoutMs);
          this.metrics.jwksRefreshes.labels(response.ok ? 'ok' : 'error').inc();
          return response;
        } catch (error) {
          this.metrics.jwksRefreshes.labels('error').inc();
          throw error;
        }
      },
    });
    await jwks.reload(); // ready means keys are loaded, not merely that their address is known
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
    this.log.info({ issuer: metadata.issuer }, 'issuer discovered and keys loaded');
  }
}
