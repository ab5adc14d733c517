import * as oidc from 'openid-client';
import { IdpUnavailable } from '../errors.js';

/** What the service keeps from a token response. */
export interface GrantedTokens {
  accessToken: string;
  /** ms since the epoch (from `expires_in`; 60 s when the IdP omits it). */
  accessExpiresAtMs: number;
  refreshToken: string | undefined;
  idToken: string | undefined;
}

/** The IdP answered with an OAuth error (`invalid_grant`, ...): the grant itself was refused. */
export interface GrantRefused {
  refused: string;
}

/**
 * Runs one openid-client grant and translates its outcome once, here: tokens; a refusal the
 * caller acts on (wrong password, spent or revoked refresh token, bad code); or
 * {@link IdpUnavailable} when the IdP could not be reached or answered 5xx (fail closed).
 */
export async function runGrant(
  call: () => Promise<oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers>,
  nowMs: () => number,
  what: string,
): Promise<GrantedTokens | GrantRefused> {
  let response: Awaited<ReturnType<typeof call>>;
  try {
    response = await call();
  } catch (error) {
    if (error instanceof oidc.ResponseBodyError && error.status < 500) return { refused: error.error };
    if (error instanceof oidc.AuthorizationResponseError) return { refused: error.error };
    // A response that failed a check (state, nonce, iss, ID token) is a refusal; one that is not
    // an OAuth response at all (an HTML 502 page), or none in time (OAUTH_TIMEOUT, OAUTH_ABORT),
    // means the IdP is not answering properly: a slow IdP must not end sessions or count as a wrong password.
    if (error instanceof oidc.ClientError && !/NOT_CONFORM|NOT_JSON|OAUTH_TIMEOUT|OAUTH_ABORT/.test(error.code ?? ''))
      return { refused: error.code ?? 'client_error' };
    const name = (error as Error).name;
    const code = error instanceof oidc.ClientError ? error.code : undefined;
    const detail =
      name === 'TimeoutError' || name === 'AbortError' || code === 'OAUTH_TIMEOUT' || code === 'OAUTH_ABORT'
        ? 'timed out'
        : (error as Error).message;
    throw new IdpUnavailable({ detail: `${what}: ${detail}`, cause: error });
  }
  return {
    accessToken: response.access_token,
    accessExpiresAtMs: nowMs() + (response.expires_in ?? 60) * 1000,
    refreshToken: response.refresh_token,
    idToken: response.id_token,
  };
}

/** Type guard for {@link runGrant}'s refusals. */
export function isRefused(outcome: GrantedTokens | GrantRefused): outcome is GrantRefused {
  return 'refused' in outcome;
}
