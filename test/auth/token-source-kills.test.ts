/**
 * Step 3 of /auth: an empty Authorization header is no credential at all, so the browser
 * session still counts (found unguarded by mutation round 5, docs/mutation.md: reading the
 * empty header as malformed credentials signed a browser out of every request).
 */
import type { IncomingMessage } from 'node:http';
import type { CredentialSource } from '../../src/auth/nginx-cache.js';
import { TokenSource } from '../../src/auth/token-source.js';
import type { Sessions } from '../../src/session/sessions.js';

const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe('TokenSource: an empty Authorization header', () => {
  it('is no credential: the session cookie’s token is taken, and recorded as session', () => {
    const asked: unknown[] = [];
    const sessions = {
      accessToken(cookie: unknown) {
        asked.push(cookie);
        return 'session-token';
      },
    } as unknown as Sessions;
    const source = { credential: 'none' as CredentialSource };
    const token = new TokenSource(sessions, undefined).tokenOf(
      req({ 'x-original-method': 'GET', authorization: '', cookie: 'authz_session=x' }),
      undefined,
      source,
    );
    expect(token).toBe('session-token');
    expect(source.credential).toBe('session');
    expect(asked).toEqual(['authz_session=x']);
  });
});
