import { loadConfig } from '../../src/config/load.js';
import { configProblems as problems, MINIMAL_ENV as minimal } from '../helpers/config.js';

describe('session.store and redis.* options', () => {
  it('defaults to the memory store and the nginx-authz: prefix', () => {
    const config = loadConfig(minimal);
    expect(config.session.store).toBe('memory');
    expect(config.redis.keyPrefix).toBe('nginx-authz:');
    expect(config.redis.url).toBeUndefined();
  });

  it('takes the Redis store, URL, credentials and prefix from AUTHZ_* variables', () => {
    const config = loadConfig({
      ...minimal,
      AUTHZ_SESSION_STORE: 'redis',
      AUTHZ_SESSION_SECRET: 'x'.repeat(32),
      AUTHZ_REDIS_URL: 'rediss://redis.internal:6380/2',
      AUTHZ_REDIS_USERNAME: 'authz',
      AUTHZ_REDIS_PASSWORD: 'pw',
      AUTHZ_REDIS_KEY_PREFIX: 'team-a:',
    });
    expect(config.session.store).toBe('redis');
    expect(config.redis).toMatchObject({ url: 'rediss://redis.internal:6380/2', username: 'authz', password: 'pw', keyPrefix: 'team-a:' });
  });

  it('requires a URL and a shared session secret with the Redis store, and refuses other URL schemes', () => {
    const found = problems({ ...minimal, AUTHZ_SESSION_STORE: 'redis' });
    expect(found.some((p) => p.startsWith('redis.url:'))).toBe(true);
    expect(found.some((p) => p.startsWith('session.secret:'))).toBe(true);
    expect(problems({ ...minimal, AUTHZ_REDIS_URL: 'http://redis:6379' }).some((p) => p.startsWith('redis.url'))).toBe(true);
    expect(problems({ ...minimal, AUTHZ_SESSION_STORE: 'disk' }).some((p) => p.startsWith('session.store'))).toBe(true);
  });
});

describe('redis TLS options', () => {
  const redisStore = { ...minimal, AUTHZ_SESSION_STORE: 'redis', AUTHZ_SESSION_SECRET: 'x'.repeat(32) };

  it('takes the CA, the client certificate and key, and the server name from AUTHZ_* variables', () => {
    const config = loadConfig({
      ...redisStore,
      AUTHZ_REDIS_URL: 'rediss://10.0.0.5:6380',
      AUTHZ_REDIS_TLS_CA_FILE: '/etc/redis-tls/ca.crt',
      AUTHZ_REDIS_TLS_CERT_FILE: '/etc/redis-tls/client.crt',
      AUTHZ_REDIS_TLS_KEY_FILE: '/etc/redis-tls/client.key',
      AUTHZ_REDIS_TLS_SERVERNAME: 'redis.internal',
    });
    expect(config.redis).toMatchObject({
      tlsCaFile: '/etc/redis-tls/ca.crt',
      tlsCertFile: '/etc/redis-tls/client.crt',
      tlsKeyFile: '/etc/redis-tls/client.key',
      tlsServername: 'redis.internal',
    });
  });

  it('refuses TLS options with a redis:// URL (they would be ignored and the password sent in clear)', () => {
    const found = problems({ ...redisStore, AUTHZ_REDIS_URL: 'redis://redis:6379', AUTHZ_REDIS_TLS_CA_FILE: '/ca.crt' });
    expect(found).toContain('redis.url: must be rediss:// (TLS) when redis.tlsCaFile is set; got a redis:// URL');
    expect(problems({ ...redisStore, AUTHZ_REDIS_URL: 'redis://redis:6379', AUTHZ_REDIS_TLS_SERVERNAME: 'r' })).toContain(
      'redis.url: must be rediss:// (TLS) when redis.tlsServername is set; got a redis:// URL',
    );
  });

  it('refuses a client certificate without its key, and a key without its certificate', () => {
    const url = { ...redisStore, AUTHZ_REDIS_URL: 'rediss://redis:6380' };
    const message = 'redis.tlsCertFile and redis.tlsKeyFile: set both (a client certificate and its key) or neither';
    expect(problems({ ...url, AUTHZ_REDIS_TLS_CERT_FILE: '/c.crt' })).toContain(message);
    expect(problems({ ...url, AUTHZ_REDIS_TLS_KEY_FILE: '/c.key' })).toContain(message);
  });
});
