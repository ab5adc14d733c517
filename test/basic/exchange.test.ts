import { BasicExchange, type PasswordGrants } from '../../src/basic/exchange.js';
import { loadConfig } from '../../src/config/load.js';
import { BadCredentials, IdpUnavailable, Throttled } from '../../src/errors.js';
import type { GrantedTokens, GrantRefused } from '../../src/idp/grants.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/ops/metrics.js';

const config = loadConfig({
  AUTHZ_ISSUER_URL: 'http://127.0.0.1:1/realms/x',
  AUTHZ_CLIENT_ID: 'nginx-authz',
  AUTHZ_BASIC_ENABLED: 'true',
  AUTHZ_BASIC_MAX_FAILURES_PER_USER: '3',
  AUTHZ_BASIC_MAX_FAILURES_PER_ADDRESS: '5',
  AUTHZ_BASIC_LOCKOUT_SECONDS: '60',
});

describe('BasicExchange', () => {
  let now = 1_000_000;
  const clock = () => now;

  function setup(passwords: Record<string, string> = { bob: 'right' }) {
    const calls: string[] = [];
    let serial = 0;
    const tokens = (user: string): GrantedTokens => ({ accessToken: `at-${user}-${++serial}`, accessExpiresAtMs: now + 300_000, refreshToken: `rt-${user}-${serial}`, idToken: undefined });
    const grants: PasswordGrants = {
      password: async (username, password): Promise<GrantedTokens | GrantRefused> => {
        calls.push(`password ${username}`);
        await Promise.resolve();
        return passwords[username] === password ? tokens(username) : { refused: 'invalid_grant' };
      },
      refresh: async (refreshToken) => {
        calls.push(`refresh ${refreshToken}`);
        return refreshToken.startsWith('rt-bob') ? tokens('bob') : { refused: 'invalid_grant' };
      },
    };
    const metrics = new Metrics({ defaultMetrics: false });
    return { exchange: new BasicExchange(config, grants, metrics, createLogger('silent'), clock), calls, metrics };
  }

  it('exchanges once for concurrent requests, then answers synchronously from the cache', async () => {
    const { exchange, calls } = setup();
    const [a, b] = [exchange.token('bob', 'right', '10.0.0.1'), exchange.token('bob', 'right', '10.0.0.1')];
    expect(a).toBeInstanceOf(Promise);
    expect(await a).toBe('at-bob-1');
    expect(await b).toBe('at-bob-1');
    expect(exchange.token('bob', 'right', '10.0.0.1')).toBe('at-bob-1');
    expect(calls).toEqual(['password bob']);
  });

  it('never answers a different password from the cache', async () => {
    const { exchange } = setup();
    await exchange.token('bob', 'right', undefined);
    await expect(exchange.token('bob', 'wrong', undefined)).rejects.toBeInstanceOf(BadCredentials);
  });

  it('renews with the refresh token before expiry, and falls back to the password grant', async () => {
    const { exchange, calls } = setup();
    await exchange.token('bob', 'right', undefined);
    now += 271_000; // 29 s left: inside the 30 s margin
    expect(await exchange.token('bob', 'right', undefined)).toBe('at-bob-2');
    expect(calls).toEqual(['password bob', 'refresh rt-bob-1']);
    expect(exchange.token('bob', 'right', undefined)).toBe('at-bob-2');
  });

  it('locks a user out after repeated failures and stops asking the IdP; cached credentials still work', async () => {
    const { exchange, calls, metrics } = setup({ bob: 'right', carol: 'hers' });
    await exchange.token('carol', 'hers', '10.0.0.2'); // cached before the attack
    for (let i = 0; i < 3; i++) await expect(exchange.token('carol', `guess-${i}`, '10.0.0.9')).rejects.toBeInstanceOf(BadCredentials);
    const before = calls.length;
    // Awaited inside the try: a broken throttle returns a promise that rejects, which must fail this test, not crash the run.
    let thrown: unknown;
    try {
      await exchange.token('carol', 'guess-4', '10.0.0.9');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(Throttled);
    expect((thrown as Throttled).retryAfterSeconds).toBe(60);
    expect((thrown as Throttled).by).toBe('user');
    expect(calls.length).toBe(before);
    expect(exchange.token('carol', 'hers', '10.0.0.2')).toMatch(/^at-carol-/);
    expect((await metrics.basicThrottled.get()).values).toEqual([{ labels: { by: 'user' }, value: 1 }]);
    now += 61_000;
    await expect(exchange.token('carol', 'guess-5', '10.0.0.9')).rejects.toBeInstanceOf(BadCredentials);
  });

  it('locks a client address out across user names', async () => {
    const { exchange } = setup();
    for (let i = 0; i < 5; i++) await expect(exchange.token(`user-${i}`, 'x', '10.0.0.66')).rejects.toBeInstanceOf(BadCredentials);
    expect(() => exchange.token('bob', 'right', '10.0.0.66')).toThrow(Throttled);
    expect(await exchange.token('bob', 'right', '10.0.0.67')).toMatch(/^at-bob-/);
  });

  it('treats a client that may not use the password grant as a deployment error, not a wrong password', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const exchange = new BasicExchange(config, { password: async () => ({ refused: 'unauthorized_client' }), refresh: async () => ({ refused: 'x' }) }, metrics, createLogger('silent'), clock);
    await expect(exchange.token('bob', 'right', undefined)).rejects.toBeInstanceOf(IdpUnavailable);
  });
});
