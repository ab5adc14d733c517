import { errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { AuthzError, IdpUnavailable, Unauthenticated } from '../../errors.js';
import { readClaim, type ClaimsPolicy } from '../../policy/claims.js';
import type { Identity, KindContext, TrustedIssuer } from '../trusted-issuer.js';
import { InternedLists } from '../../util/interned-lists.js';

/**
 * Verifies a bearer JWT locally, for the kinds whose tokens are JWTs: signature against the
 * issuer's JWKS, allowed asymmetric algorithms only, `iss`, `aud`, `exp`/`nbf` with a small
 * skew, and that it is an access token.
 * @throws {Unauthenticated} `invalid_token` for any token that fails a check
 * @throws {IdpUnavailable} when the keys cannot be fetched (fail closed)
 */
export async function verifyJwt(context: KindContext, token: string): Promise<JWTPayload & { sub: string; exp: number }> {
  const { provider, settings, clock } = context;
  const keys = provider.keys;
  const endpoints = provider.endpoints;
  if (keys === undefined || endpoints === undefined) throw new IdpUnavailable({ detail: 'issuer not discovered yet' });
  const { issuer } = settings;

  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keys, {
      issuer: endpoints.issuer,
      audience: [...issuer.audiences],
      algorithms: [...issuer.algorithms],
      clockTolerance: issuer.clockToleranceSeconds,
      currentDate: new Date(clock()),
      requiredClaims: ['exp', 'sub'],
    }));
  } catch (error) {
    throw translateJoseError(error);
  }
  // Keycloak marks ID and refresh tokens with `typ`; only access tokens authorize requests.
  if (payload.typ !== undefined && String(payload.typ).toLowerCase() !== 'bearer') {
    throw new Unauthenticated('invalid_token', { detail: `token typ ${String(payload.typ)} is not an access token` });
  }
  return payload as JWTPayload & { sub: string; exp: number };
}

/** jose's errors become ours here, and only here. */
function translateJoseError(error: unknown): AuthzError {
  if (error instanceof AuthzError) return error; // from idpFetch inside the JWKS fetch
  // The key set could not be had (timeout, non-200, not a JWKS): the IdP's fault, not the token's.
  if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid || error?.constructor === joseErrors.JOSEError) {
    return new IdpUnavailable({ detail: `JWKS unavailable: ${(error as Error).message}`, cause: error });
  }
  if (error instanceof joseErrors.JOSEError) {
    return new Unauthenticated('invalid_token', { detail: `${error.code}: ${error.message}` });
  }
  if (error instanceof TypeError || error instanceof SyntaxError) {
    return new Unauthenticated('invalid_token', { detail: `malformed token: ${error.message}` });
  }
  return new IdpUnavailable({ detail: `token verification failed: ${(error as Error).message}`, cause: error });
}

/** Group lists shared between cached identities (most tokens carry one of a few lists). */
const sharedGroups = new InternedLists();

/**
 * The identity headers' values from the issuer's claim paths, and the policy's claim values;
 * never the claims object.
 */
export function toIdentity(
  issuer: TrustedIssuer,
  claims: Readonly<Record<string, unknown>>,
  subject: string,
  expiresAtMs: number,
  tokenHash: string,
  permissions: ReadonlySet<string> | undefined,
  policy: ClaimsPolicy | undefined,
): Identity {
  const paths = issuer.settings.claims;
  const first = (values: string[]): string | undefined => values.find((value) => value !== '');
  return {
    subject,
    username: first(readClaim(claims, paths.username)),
    email: first(readClaim(claims, paths.email)),
    groups: sharedGroups.intern(readClaim(claims, paths.groups)),
    expiresAtMs,
    tokenHash,
    permissions,
    issuer,
    claims: policy?.extract(claims),
    iss: sharedIss(issuer, claims.iss),
    sid: typeof claims.sid === 'string' && claims.sid !== '' ? claims.sid : undefined,
    issuedAtMs: typeof claims.iat === 'number' ? claims.iat * 1000 : undefined,
  };
}

/**
 * The token's `iss`, as the issuer's own discovered string when they are equal (a verified JWT's
 * always is): one string for all of the issuer's cached identities, not a copy per token.
 */
function sharedIss(issuer: TrustedIssuer, iss: unknown): string | undefined {
  if (typeof iss !== 'string') return undefined;
  const own = issuer.provider.endpoints?.issuer;
  return own === iss ? own : iss;
}
