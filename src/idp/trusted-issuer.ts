import type { Clock } from '../clock.js';
import type { IssuerSettings } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../ops/metrics.js';
import type { ClaimValues } from '../policy/claims.js';
import type { Challenger, Decider } from './decider.js';
import type { IdentityProvider } from './provider.js';

/**
 * Who the caller is, from a verified token: only the fields the service uses, so 100,000
 * cached identities stay small (the claims object itself is not kept).
 */
export interface Identity {
  subject: string;
  username: string | undefined;
  email: string | undefined;
  groups: readonly string[];
  /** Token expiry, ms since the epoch: no cached answer for this token may outlive it. */
  expiresAtMs: number;
  /** Fingerprint of the token (tokens/verify.ts `hashToken`): the cache key, and safe to log in short form. */
  tokenHash: string;
  /** For an RPT, the `resource#scope` keys it grants (idp/rpt.ts); undefined for any other token. */
  permissions: ReadonlySet<string> | undefined;
  /** The issuer that vouched for the token (it decides how the token is authorized); undefined means the primary. */
  issuer?: TrustedIssuer | undefined;
  /** Issuers with a claims policy: the values of the claims the policy reads, and only those. */
  claims?: ClaimValues | undefined;
  /** The token's `iss`, `sid` and `iat` (ms): what a back-channel logout is checked against (src/logout/revocations.ts). */
  iss?: string | undefined;
  sid?: string | undefined;
  issuedAtMs?: number | undefined;
}

/** What a route needs: the route table's `resource#scope`; `family` is the table's resource name (metric labels). */
export interface Permission {
  resource: string;
  family: string;
  scope: string;
}

/**
 * How a token is to be decided for a permission, as its issuer says after its own checks:
 * - `allowed`: decided here, by the issuer (a claims policy, an RPT holding the permission);
 * - `challenge`: the caller is sent for an RPT (401 with a UMA permission ticket);
 * - `ask`: the decision cache, then one call to the issuer's decision client.
 * A refusal by the issuer's own checks is thrown ({@link Forbidden}), not returned.
 */
export type Authorization =
  | { readonly kind: 'allowed' }
  | { readonly kind: 'challenge'; readonly challenger: Challenger }
  | { readonly kind: 'ask'; readonly decider: Decider };

/** The one `allowed` answer: the hot path allocates nothing. */
export const ALLOWED: Authorization = Object.freeze({ kind: 'allowed' });

/**
 * One configured issuer at run time, built from its own settings by its kind (src/idp/kinds/):
 * it verifies its tokens and says how they are authorized. Callers (the token verifier, the
 * /auth pipeline) ask the token's issuer and never look at its mode.
 */
export interface TrustedIssuer {
  readonly settings: IssuerSettings;
  /** Discovery and keys of this issuer. */
  readonly provider: IdentityProvider;
  /** Tokens are read by the IdP (RFC 7662), so they need not be JWTs; its client secret can be probed with a call. */
  readonly introspects: boolean;
  /** Takes the tokens that are not JWTs (at most one issuer does; config validation sees to it). */
  readonly takesOpaqueTokens: boolean;
  /** Its tokens are decided on Keycloak resources, so a route may be narrowed to a per-object one (`uma.perObject`). */
  readonly keycloakResources: boolean;
  /**
   * Verifies a token this issuer vouches for.
   * @throws {Unauthenticated} `invalid_token` for any token that fails a check
   * @throws {IdpUnavailable} when the issuer cannot be asked (keys, introspection): fail closed
   */
  verify(token: string, tokenHash: string): Promise<Identity>;
  /**
   * How `identity` (verified by this issuer) is decided for `permission`; synchronous, no call.
   * @throws {Forbidden} `access_denied` when the issuer's own checks refuse it
   */
  authorize(identity: Identity, permission: Permission): Authorization;
}

/** What a kind builds an issuer from: its settings, and the service's shared parts. */
export interface KindContext {
  settings: IssuerSettings;
  provider: IdentityProvider;
  metrics: Metrics;
  log: Logger;
  clock: Clock;
  /** The issuer's UMA decision client, for kinds that `ask` (built by the caller: decide/ sits above idp/). */
  decider?: ((settings: IssuerSettings, provider: IdentityProvider) => Decider) | undefined;
  /** The issuer's UMA challenger, when `uma.challenge` applies to it (the primary only). */
  challenger?: ((settings: IssuerSettings) => Challenger | undefined) | undefined;
}

/** An IdP kind: builds a trusted issuer from its context. One file per kind under src/idp/kinds/. */
export type IssuerKind = (context: KindContext) => TrustedIssuer;
