/**
 * connectRedis's pure parts: which credentials reach node-redis, and how a failed connection is described in the log.
 * (The connection itself, over TLS with an ACL user, is proven on a real redis-server: test/cluster/redis-tls.test.ts.)
 */
import type { Config } from '../../src/config/schema.js';
import { credentials, explain } from '../../src/cluster/redis.js';

const settings = (over: Partial<Config['redis']> = {}) => ({ keyPrefix: 'p:', commandTimeoutMs: 1_000, ...over }) as Config['redis'];

describe('credentials: redis.username / redis.password override the URL’s', () => {
  it('a user in the URL and the password from AUTHZ_REDIS_PASSWORD: both reach the client, the URL loses its user info', () => {
    // node-redis ignores the password option when the URL has user info: the service sent the user without a password.
    expect(credentials(new URL('rediss://svc@redis.example:6380/0'), settings({ password: 'from-env' }))).toEqual({
      url: 'rediss://redis.example:6380/0',
      username: 'svc',
      password: 'from-env',
    });
  });

  it('the options win over the URL; the URL’s are used (decoded) when no option is set', () => {
    expect(credentials(new URL('redis://u:p%40ss@h:1'), settings({ username: 'other', password: 'pw' }))).toEqual({
      url: 'redis://h:1',
      username: 'other',
      password: 'pw',
    });
    expect(credentials(new URL('redis://u:p%40ss@h:1'), settings())).toEqual({ url: 'redis://h:1', username: 'u', password: 'p@ss' });
    expect(credentials(new URL('redis://:only-pw@h:1'), settings())).toEqual({ url: 'redis://h:1', password: 'only-pw' });
    expect(credentials(new URL('redis://h:1'), settings())).toEqual({ url: 'redis://h:1' });
  });
});

describe('explain: a Redis connection error as logged', () => {
  const coded = (code: string, message: string) => Object.assign(new Error(message), { code });

  it('names TLS certificate verification and the options that decide it', () => {
    const text = explain(coded('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'), true);
    expect(text).toMatch(
      /^TLS certificate verification failed \(SELF_SIGNED_CERT_IN_CHAIN: self-signed certificate in certificate chain\)/,
    );
    expect(text).toContain('redis.tlsCaFile');
    expect(explain(coded('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"), true)).toContain(
      'redis.tlsServername',
    );
  });

  it('points a TLS alert at the client certificate options', () => {
    expect(explain(coded('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'alert'), true)).toMatch(/^TLS handshake failed.*redis\.tlsCertFile/);
  });

  it('suggests rediss:// when a plain connection is reset; leaves other errors as they are', () => {
    expect(explain(coded('ECONNRESET', 'read ECONNRESET'), false)).toContain('the URL must be rediss://');
    expect(explain(coded('ECONNRESET', 'read ECONNRESET'), true)).toBe('read ECONNRESET');
    expect(explain(new Error('WRONGPASS invalid username-password pair or user is disabled.'), true)).toBe(
      'WRONGPASS invalid username-password pair or user is disabled.',
    );
    expect(explain('text', false)).toBe('text');
  });
});
