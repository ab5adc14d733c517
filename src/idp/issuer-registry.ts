import { decodeJwt } from 'jose';
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { Unauthenticated } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../ops/metrics.js';
import { ISSUER_KINDS, type IssuerKinds } from './kinds/index.js';
import { IdentityProvider } from './provider.js';
import type { KindContext, TrustedIssuer } from './trusted-issuer.js';

export type { TrustedIssuer } from './trusted-issuer.js';

/** The parts of an issuer that live above idp/ (UMA decisions, challenges), handed to its kind. */
export type IssuerLinks = Pick<KindContext, 'decider' | 'challenger'>;

/**
 * Every configured issuer, the primary first, and which of them a token belongs to. Each is
 * built from its own settings by its kind (src/idp/kinds/, chosen by `mode`).
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
   * @param links the UMA decision client and challenger of the issuers whose kinds use them
   * @param kinds mode → kind; {@link ISSUER_KINDS} unless a test adds one
   * @throws {Error} for an issuer whose mode has no kind (config validation prevents it)
   */
  constructor(
    config: Config,
    primaryProvider: IdentityProvider,
    metrics: Metrics,
    log: Logger,
    clock: Clock,
    links: IssuerLinks = {},
    kinds: IssuerKinds = ISSUER_KINDS,
  ) {
    this.all = config.issuers.map((settings, index) => {
      const kind = kinds[settings.mode];
      if (kind === undefined) throw new Error(`issuer ${settings.id}: no kind for mode ${JSON.stringify(settings.mode)}`);
      // Each provider reads its own issuer's settings (`issuer`, `client`), nothing else of the configuration.
      const provider = index === 0 ? primaryProvider : new IdentityProvider(settings, metrics, log);
      return kind({ settings, provider, metrics, log, clock, ...links });
    });
    for (const issuer of this.all) this.byUrl.set(issuer.settings.issuer.url, issuer);
    this.opaque = this.all.find((issuer) => issuer.takesOpaqueTokens);
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
    if (!this.primary.introspects) return this.primary;
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
