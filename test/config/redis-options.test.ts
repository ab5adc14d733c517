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
