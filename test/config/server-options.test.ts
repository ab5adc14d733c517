/** server.listen / server.socketMode / server.workers: parsing, and the refusal of several workers with per-process state. */
import { loadConfig } from '../../src/config/load.js';
import { configProblems as problems, MINIMAL_ENV as minimal } from '../helpers/config.js';

describe('server listener options', () => {
  it('defaults: TCP, one worker, owner-only socket mode', () => {
    const config = loadConfig(minimal);
    expect(config.server.listen).toBeUndefined();
    expect(config.server.workers).toBe(1);
    expect(config.server.socketMode).toBe('0600');
  });

  it('AUTHZ_LISTEN takes unix:/absolute/path, AUTHZ_SOCKET_MODE an octal mode', () => {
    const config = loadConfig({ ...minimal, AUTHZ_LISTEN: 'unix:/run/nginx-authz/authz.sock', AUTHZ_SOCKET_MODE: '0660' });
    expect(config.server.listen).toBe('unix:/run/nginx-authz/authz.sock');
    expect(config.server.socketMode).toBe('0660');
  });

  it.each([
    ['a relative path', 'unix:run/authz.sock'],
    ['a host:port', '127.0.0.1:4180'],
    ['a path beyond the sun_path limit', `unix:/${'x'.repeat(120)}`],
  ])('refuses %s in AUTHZ_LISTEN', (_label, value) => {
    expect(problems({ ...minimal, AUTHZ_LISTEN: value }).join('\n')).toContain('server.listen');
  });

  it('refuses a socket mode that is not octal', () => {
    expect(problems({ ...minimal, AUTHZ_SOCKET_MODE: '0999' }).join('\n')).toContain('server.socketMode');
  });

  it('accepts several workers without browser login and Basic credentials', () => {
    expect(loadConfig({ ...minimal, AUTHZ_WORKERS: '4' }).server.workers).toBe(4);
  });

  it('refuses several workers with browser login: sessions live in one process', () => {
    const found = problems({ ...minimal, AUTHZ_WORKERS: '2', AUTHZ_LOGIN_ENABLED: 'true' });
    expect(found).toEqual([expect.stringMatching(/^server\.workers: 2 workers cannot serve browser login \(login\.enabled\)/)]);
  });

  it('refuses several workers with Basic credentials: the lockout counters are per process', () => {
    const found = problems({ ...minimal, AUTHZ_WORKERS: '3', AUTHZ_BASIC_ENABLED: 'true' });
    expect(found).toEqual([expect.stringContaining('3× basic.maxFailuresPerUser')]);
  });

  it('accepts several workers with login and Basic on the Redis store: sessions and lockout counters are shared', () => {
    const env = {
      ...minimal,
      AUTHZ_WORKERS: '2',
      AUTHZ_LOGIN_ENABLED: 'true',
      AUTHZ_BASIC_ENABLED: 'true',
      AUTHZ_SESSION_STORE: 'redis',
      AUTHZ_REDIS_URL: 'redis://127.0.0.1:6379',
      AUTHZ_SESSION_SECRET: 'development-only-secret-0123456789abcdef',
    };
    expect(loadConfig(env).server.workers).toBe(2);
  });

  it('one worker with login and Basic is fine', () => {
    expect(loadConfig({ ...minimal, AUTHZ_WORKERS: '1', AUTHZ_LOGIN_ENABLED: 'true', AUTHZ_BASIC_ENABLED: 'true' }).server.workers).toBe(1);
  });

  it('refuses 0 and more than 64 workers', () => {
    expect(problems({ ...minimal, AUTHZ_WORKERS: '0' }).join('\n')).toContain('server.workers');
    expect(problems({ ...minimal, AUTHZ_WORKERS: '65' }).join('\n')).toContain('server.workers');
  });
});
