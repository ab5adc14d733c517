import type { Service } from '../../src/app.js';
import type { MemorySessionStore } from '../../src/session/store.js';

// Tests that need a signed-in browser open a session straight in the service's store (no login
// round trip through the fake IdP) and send the cookie the service would have set.

/** A `Cookie` header (the default cookie name) for a new in-memory session holding `accessToken` (valid 5 minutes), on a service with `login.enabled`. */
export async function sessionCookieFor(service: Pick<Service, 'sessions'>, accessToken: string): Promise<string> {
  const sessions = service.sessions!;
  const session = (sessions.store as MemorySessionStore).create({
    accessToken,
    accessExpiresAtMs: Date.now() + 300_000,
    refreshToken: 'rt',
    idToken: undefined,
  });
  return `nginx_authz_session=${await sessions.cookie.seal(session.id, session.absoluteExpiresAtMs)}`;
}
