import { decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import type { Clock } from '../clock.js';
import type { TrustedIssuer } from '../idp/issuer-registry.js';
import type { LogoutTarget } from './revocations.js';
import type { ReplayGuard } from './replay.js';

/** The event a back-channel logout token must carry (OIDC Back-Channel Logout 1.0 §2.4). */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** Why a logout token was refused: a short, fixed reason for the log and the metric (never the token). */
export class InvalidLogoutToken extends Error {
  constructor(
    readonly reason: string,
    /** `replayed` (a `jti` seen before) or `invalid` (everything else). */
    readonly kind: 'invalid' | 'replayed' = 'invalid',
  ) {
    super(reason);
    this.name = 'InvalidLogoutToken';
  }
}

export interface LogoutTokenOptions {
  /** The configured issuers (their keys, algorithms and skew are reused). */
  issuers: readonly TrustedIssuer[];
  /** The `aud` values a logout token may name for this issuer (at least one must be present). */
  audiencesOf(issuer: TrustedIssuer): readonly string[];
  /** A token whose `iat` is older than this is refused; its `jti` is claimed for this long plus the skew. */
  maxAgeMs: number;
  replay: ReplayGuard;
  clock: Clock;
}

/**
 * Validates a logout token as OIDC Back-Channel Logout 1.0 §2.6 asks, and claims its `jti`
 * once: signature by the issuer's keys (the same key sets, with rotation, as access tokens),
 * the issuer's allowed algorithms only, `iss` a configured issuer, `aud` naming one of our
 * clients, `iat` present and neither in the future (beyond the skew) nor older than
 * `maxAgeMs`, `exp` if present, the back-channel logout event as an object, no `nonce`, a
 * `sub` and/or a `sid`, and a `jti`. The optional header `typ` must be `logout+jwt` when it is
 * there (Keycloak sends `JWT`, also accepted: the claims, not the header, make it a logout token).
 * @returns what to log out
 * @throws {InvalidLogoutToken} for any failed check; nothing is claimed unless every other check passed
 */
export async function verifyLogoutToken(token: string, options: LogoutTokenOptions): Promise<LogoutTarget> {
  const trusted = selectIssuer(token, options.issuers);
  const keys = trusted.provider.keys;
  const endpoints = trusted.provider.endpoints;
  if (keys === undefined || endpoints === undefined) throw new InvalidLogoutToken('issuer not discovered yet');
  const { issuer } = trusted.settings;
  const now = options.clock();
  const skewSeconds = issuer.clockToleranceSeconds;
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keys, {
      issuer: endpoints.issuer,
      audience: [...options.audiencesOf(trusted)],
      algorithms: [...issuer.algorithms],
      clockTolerance: skewSeconds,
      currentDate: new Date(now),
      maxTokenAge: Math.max(1, Math.floor(options.maxAgeMs / 1000)),
      requiredClaims: ['iat', 'jti'],
    }));
  } catch (error) {
    // The jose code and, for a claim check, the claim: enough for an operator, nothing from the token's content.
    const { code, claim } = error as { code?: string; claim?: string };
    throw new InvalidLogoutToken(`verification failed: ${code ?? (error as Error).name}${claim === undefined ? '' : ` (${claim})`}`);
  }
  const header = decodeProtectedHeader(token);
  if (header.typ !== undefined && !['logout+jwt', 'jwt'].includes(String(header.typ).toLowerCase())) {
    throw new InvalidLogoutToken('typ header is not logout+jwt');
  }
  // jose accepts an iat in the future; a logout token from the future is refused beyond the skew.
  if (typeof payload.iat !== 'number' || payload.iat * 1000 > now + skewSeconds * 1000) throw new InvalidLogoutToken('iat in the future');
  const events = payload.events;
  if (typeof events !== 'object' || events === null || Array.isArray(events)) throw new InvalidLogoutToken('events claim missing');
  const event = (events as Record<string, unknown>)[BACKCHANNEL_LOGOUT_EVENT];
  if (typeof event !== 'object' || event === null || Array.isArray(event)) throw new InvalidLogoutToken('no back-channel logout event');
  if ('nonce' in payload) throw new InvalidLogoutToken('nonce present');
  const sub = nonEmpty(payload.sub);
  const sid = nonEmpty(payload.sid);
  if (payload.sub !== undefined && sub === undefined) throw new InvalidLogoutToken('sub is not a string');
  if (payload.sid !== undefined && sid === undefined) throw new InvalidLogoutToken('sid is not a string');
  if (sub === undefined && sid === undefined) throw new InvalidLogoutToken('neither sub nor sid');
  const jti = nonEmpty(payload.jti);
  if (jti === undefined) throw new InvalidLogoutToken('jti missing');
  // Last, so that a refused token never uses up its jti: keyed by issuer, kept as long as the token could pass the iat check.
  const fresh = await options.replay.claimOnce(JSON.stringify([endpoints.issuer, jti]), options.maxAgeMs + 2 * skewSeconds * 1000);
  if (!fresh) throw new InvalidLogoutToken('jti replayed', 'replayed');
  return { issuer: endpoints.issuer, sub, sid };
}

/** The configured issuer the token's (unverified) `iss` names: it only picks the keys the token is then verified with. */
function selectIssuer(token: string, issuers: readonly TrustedIssuer[]): TrustedIssuer {
  let iss: unknown;
  try {
    iss = decodeJwt(token).iss;
  } catch {
    throw new InvalidLogoutToken('not a JWT');
  }
  if (typeof iss !== 'string') throw new InvalidLogoutToken('iss missing');
  const wanted = iss.replace(/\/+$/, '');
  // The configured URL, or the issuer its discovery document names (they are equal unless the URL is the document's own).
  const found = issuers.find((issuer) =>
    [issuer.settings.issuer.url, issuer.provider.endpoints?.issuer].some((url) => url?.replace(/\/+$/, '') === wanted),
  );
  if (found === undefined) throw new InvalidLogoutToken('issuer not configured');
  return found;
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
