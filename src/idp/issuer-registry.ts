import { decodeJwt } from 'jose';
import type { Clock } from '../clock.js';
import type { Config, IssuerSettings } from '../config/schema.js';
import { Unauthenticated } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../ops/metrics.js';
import { ClaimsPolicy } from '../policy/claims.js';
import type { Decider } from './decider.js';
import { Introspector } from './introspection.js';
import { IdentityProvider } from './provider.js';

/** One configured issuer at run time: its settings, discovery and keys, and how its tokens are decided. */
export interface TrustedIssuer {
  settings: IssuerSettings;
  provider: IdentityProvider;
  /** Modes `claims` and `introspection`. */
  policy: ClaimsPolicy | undefined;
  /** Mode `introspection`. */
  introspector: Introspector | undefined;
  /** Mode `keycloak-uma`: the IdP call of the decision step. */
  decider: Decider | undefined;
}

/**
 * The whole configuration seen as one issuer's: the per-issuer modules (provider, PAT, UMA
 * decisions) read `config.issuer` and `config.client`, so each gets a view with its own.
 */
export function issuerView(config: Config, settings: IssuerSettings): Config {
  return { ...config, issuer: settings.issuer, client: settings.client };
}

/**
 * Every configured issuer, the primary first, and which of them a token belongs to.
 *
 * A JWT names its issuer in `iss`, read here WITHOUT trusting it (decodeJwt does not verify):
 * it only picks whose keys, audiences and algorithms the token is then fully verified with, so
 * a forged `iss` gains nothing. An unconfigured issuer → 401. Any other token (opaque, or not
 * a readable JWT) goes to the one introspection issuer that takes opaque tokens, if there is one.
 */
export class IssuerRegistry {
  readonly all: readonly TrustedIssuer[];
  private readonly byUrl = new Map<string, TrustedIssuer>();
  private readonly opaque: TrustedIssuer | undefined;

  /**
   * @param primaryProvider the primary issuer's provider (created by the caller, which hands it out as `service.provider`)
   * @param deciderFor the UMA decision client of a keycloak-uma issuer
   */
  constructor(
    config: Config,
    primaryProvider: IdentityProvider,
    metrics: Metrics,
    log: Logger,
    clock: Clock,
    deciderFor?: (settings: IssuerSettings, provider: IdentityProvider) => Decider,
  ) {
    this.all = config.issuers.map((settings, index) => {
      const provider = index === 0 ? primaryProvider : new IdentityProvider(issuerView(config, settings), metrics, log);
      const policy = settings.policy === undefined ? undefined : new ClaimsPolicy(settings.policy);
      return {
        settings,
        provider,
        policy,
        introspector: settings.mode === 'introspection' ? new Introspector(settings, provider, metrics, log, clock) : undefined,
        decider: settings.mode === 'keycloak-uma' ? deciderFor?.(settings, provider) : undefined,
      };
    });
    for (const issuer of this.all) this.byUrl.set(issuer.settings.issuer.url, issuer);
    this.opaque = this.all.find((issuer) => issuer.settings.mode === 'introspection' && issuer.settings.introspection.opaqueTokens);
  }

  get primary(): TrustedIssuer {
    return this.all[0]!;
  }

  /** Ready when every issuer's metadata (and keys) are loaded. */
  get ready(): boolean {
    return this.all.every((issuer) => issuer.provider.ready);
  }

  /** Starts discovery of every issuer; resolves when all are done (each retries on its own until then). */
  async start(): Promise<void> {
    await Promise.all(this.all.map((issuer) => issuer.provider.start()));
  }

  stop(): void {
    for (const issuer of this.all) issuer.provider.stop();
  }

  /**
   * The issuer a token is to be verified by.
   * @throws {Unauthenticated} `invalid_token` for a JWT of an unconfigured issuer, or an opaque token with no introspection issuer
   */
  select(token: string): TrustedIssuer {
    const iss = unverifiedIssuer(token);
    if (iss !== undefined) {
      // Discovery requires the document's issuer to equal the configured URL (OIDC Discovery §4.3), so the URL is the issuer.
      const found = this.byUrl.get(iss) ?? this.byUrl.get(iss.replace(/\/+$/, ''));
      if (found === undefined) throw new Unauthenticated('invalid_token', { detail: 'issuer not configured' });
      return found;
    }
    if (this.opaque !== undefined) return this.opaque;
    // Not a JWT with an `iss`: the primary's verification refuses it with the precise reason (malformed, no iss).
    if (this.primary.settings.mode !== 'introspection') return this.primary;
    throw new Unauthenticated('invalid_token', { detail: 'not a JWT, and no introspection issuer takes opaque tokens' });
  }
}

/** The `iss` of a compact JWS, unverified; undefined when the token is not one. */
function unverifiedIssuer(token: string): string | undefined {
  if (token.split('.').length !== 3) return undefined;
  try {
    const { iss } = decodeJwt(token);
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}
