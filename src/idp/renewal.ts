import type { Clock } from '../clock.js';
import { IdpUnavailable, StoreUnavailable } from '../errors.js';

/** Something that holds an access token and renews it before it expires (a browser session, a Basic exchange). */
export interface RenewableToken {
  tokens: { accessToken: string; accessExpiresAtMs: number };
  /**
   * The renewal under way, shared by every request that needs it (single flight). Kept on the
   * holder rather than in a util/single-flight.ts map: the holder (a session, a cached
   * exchange) is the key, and the flight goes when the holder does, with no registry to clean.
   */
  renewing: Promise<string> | undefined;
}

/**
 * The holder's access token: synchronously while it has more than `renewBeforeMs` left (the
 * common case); otherwise after one renewal that every request arriving meanwhile shares, so a
 * refresh token is never spent twice (Keycloak with refresh-token rotation refuses a reused
 * one). An IdP or a session store that does not answer ({@link IdpUnavailable},
 * {@link StoreUnavailable}) leaves the old token in use while
 * it is still valid; after that, and for any other failure, the error goes to the caller.
 */
export function renewedToken(
  holder: RenewableToken,
  renewBeforeMs: number,
  clock: Clock,
  renew: () => Promise<string>,
): string | Promise<string> {
  if (holder.tokens.accessExpiresAtMs - clock() > renewBeforeMs) return holder.tokens.accessToken;
  holder.renewing ??= renew().finally(() => {
    holder.renewing = undefined;
  });
  return holder.renewing.catch((error: unknown) => {
    if ((error instanceof IdpUnavailable || error instanceof StoreUnavailable) && holder.tokens.accessExpiresAtMs > clock())
      return holder.tokens.accessToken;
    throw error;
  });
}
