import { BasicExchange, type PasswordGrants } from '../../src/basic/exchange.js';
import type { Attempt, FailureLimiter, LimitKey } from '../../src/basic/limiter.js';
import { MemoryFailureLimiter } from '../../src/basic/memory-limiter.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
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

/** What a call ended with, whether it threw at once, returned a value or a promise (never an unhandled rejection). */
async function outcome(call: () => unknown): Promise<unknown> {
  try {
    return await call();
  } catch (error) {
    return error;
  }
}

/** A throttled answer as the client sees it: NGINX turns it into 429 + Retry-After. */
const answer = (result: unknown): string =>
  result instanceof Throttled
    ? `429 retry-after ${result.retryAfterSeconds}`
    : result instanceof BadCredentials
      ? '401'
      : typeof result === 'string'
        ? '200'
        : `unexpected ${String(result)}`;

/** The in-memory limiter behind promises, as a shared store (Redis) would answer. */
function asynchronous(inner: FailureLimiter): FailureLimiter {
  const later = <T>(value: T | Promise<T>): Promise<T> => new Promise((resolve) => setImmediate(() => resolve(value)));
  return {
    reserve: (keys: readonly LimitKey[]) => later(inner.reserve(keys)),
    fail: (attempt: Attempt) => later(inner.fail(attempt)),
    succeed: (attempt: Attempt) => later(inner.succeed(attempt)),
    cancel: (attempt: Attempt) => later(inner.cancel(attempt)),
    charge: (keys: readonly LimitKey[]) => later(inner.charge(keys)),
    retryAfter: (keys: readonly LimitKey[]) => later(inner.retryAfter(keys)),
  };
}

describe('BasicExchange', () => {
  let now = 1_000_000;
  const clock = () => now;

  function setup(
    passwords: Record<string, string> = { bob: 'right' },
    options: { config?: Config; limiter?: (limits: Config) => FailureLimiter } = {},
  ) {
    const used = options.config ?? config;
    const calls: string[] = [];
    let serial = 0;
    const tokens = (user: string): GrantedTokens => ({
      accessToken: `at-${user}-${++serial}`,
      accessExpiresAtMs: now + 300_000,
      refreshToken: `rt-${user}-${serial}`,
      idToken: undefined,
    });
    const grants: PasswordGrants = {
      password: async (username, password): Promise<GrantedTokens | GrantRefused> => {
        calls.push(`password ${username}`);
        // Several turns of the event loop: concurrent requests really overlap at the "IdP".
        for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
        return passwords[username] === password ? tokens(username) : { refused: 'invalid_grant' };
      },
      refresh: async (refreshToken) => {
        calls.push(`refresh ${refreshToken}`);
        return refreshToken.startsWith('rt-bob') ? tokens('bob') : { refused: 'invalid_grant' };
      },
    };
    const metrics = new Metrics({ defaultMetrics: false });
    const limiter = options.limiter?.(used);
    return { exchange: new BasicExchange(used, grants, metrics, createLogger('silent'), clock, limiter), calls, metrics };
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
    await expect(outcome(() => exchange.token('bob', 'wrong', undefined))).resolves.toBeInstanceOf(BadCredentials);
  });

  it('renews with the refresh token before expiry, and falls back to the password grant', async () => {
    const { exchange, calls } = setup();
    await exchange.token('bob', 'right', undefined);
    now += 271_000; // 29 s left: inside the 30 s margin
    expect(await exchange.token('bob', 'right', undefined)).toBe('at-bob-2');
    expect(calls).toEqual(['password bob', 'refresh rt-bob-1']);
    expect(exchange.token('bob', 'right', undefined)).toBe('at-bob-2');
  });

  it('locks a user out after repeated failures and stops asking the IdP; the job that cached them keeps working', async () => {
    const { exchange, calls, metrics } = setup({ bob: 'right', carol: 'hers' });
    await exchange.token('carol', 'hers', '10.0.0.2'); // her job, before the attack
    for (let i = 0; i < 3; i++)
      expect(await outcome(() => exchange.token('carol', `guess-${i}`, '10.0.0.9'))).toBeInstanceOf(BadCredentials);
    const before = calls.length;
    const thrown = await outcome(() => exchange.token('carol', 'guess-4', '10.0.0.9'));
    expect(thrown).toBeInstanceOf(Throttled);
    expect((thrown as Throttled).retryAfterSeconds).toBe(60);
    expect((thrown as Throttled).by).toBe('user');
    expect(calls.length).toBe(before);
    expect(exchange.token('carol', 'hers', '10.0.0.2')).toMatch(/^at-carol-/);
    expect((await metrics.basicThrottled.get()).values).toEqual([{ labels: { by: 'user' }, value: 1 }]);
    now += 61_000;
    expect(await outcome(() => exchange.token('carol', 'guess-5', '10.0.0.9'))).toBeInstanceOf(BadCredentials);
  });

  it('locks a client address out across user names', async () => {
    const { exchange } = setup();
    for (let i = 0; i < 5; i++) expect(await outcome(() => exchange.token(`user-${i}`, 'x', '10.0.0.66'))).toBeInstanceOf(BadCredentials);
    expect(await outcome(() => exchange.token('bob', 'right', '10.0.0.66'))).toBeInstanceOf(Throttled);
    expect(await exchange.token('bob', 'right', '10.0.0.67')).toMatch(/^at-bob-/);
  });

  it('during a lockout, the right and the wrong password get the same answer from the attacker’s address (issue 10 A2a)', async () => {
    const { exchange, calls } = setup({ alice: 'secret' });
    await exchange.token('alice', 'secret', '10.0.0.2'); // alice's job caches her credentials
    for (let i = 0; i < 3; i++) await outcome(() => exchange.token('alice', `guess-${i}`, '10.6.6.6'));
    const grants = calls.length;
    // 2,000 guesses from the attacker's address, the right password among them.
    const answers = new Map<string, number>();
    let right = '';
    for (let i = 0; i < 2_000; i++) {
      const result = answer(await outcome(() => exchange.token('alice', i === 1_234 ? 'secret' : `guess-x${i}`, '10.6.6.6')));
      if (i === 1_234) right = result;
      answers.set(result, (answers.get(result) ?? 0) + 1);
    }
    expect([...answers.keys()]).toEqual(['429 retry-after 60']);
    expect(right).toBe('429 retry-after 60');
    expect(calls.length).toBe(grants); // not one of them reached the IdP
    // From another address that never proved them, too; the job's address is still served.
    expect(answer(await outcome(() => exchange.token('alice', 'secret', '10.7.7.7')))).toBe(
      answer(await outcome(() => exchange.token('alice', 'nope', '10.7.7.7'))),
    );
    expect(exchange.token('alice', 'secret', '10.0.0.2')).toMatch(/^at-alice-/);
  });

  it('a cache hit from a new address costs an attempt like a guess, so a locked user’s cache is no oracle', async () => {
    const { exchange, calls } = setup({ alice: 'secret' });
    await exchange.token('alice', 'secret', '10.0.0.2');
    expect(exchange.token('alice', 'secret', '10.0.0.3')).toMatch(/^at-alice-/); // budget left: served from the cache, no IdP call
    expect(calls).toEqual(['password alice']);
    for (let i = 0; i < 3; i++) await outcome(() => exchange.token('alice', `guess-${i}`, '10.6.6.6'));
    expect(exchange.token('alice', 'secret', '10.0.0.3')).toMatch(/^at-alice-/); // 10.0.0.3 proved them before the lockout
    expect(await outcome(() => exchange.token('alice', 'secret', '10.0.0.4'))).toBeInstanceOf(Throttled);
  });

  it('someone guessing from the job’s own address learns at most maxFailuresPerAddress answers, then that address is locked too', async () => {
    const { exchange, calls } = setup({ alice: 'secret' });
    await exchange.token('alice', 'secret', '10.0.0.2');
    const answers: string[] = [];
    for (let i = 0; i < 50; i++) answers.push(answer(await outcome(() => exchange.token('alice', `guess-${i}`, '10.0.0.2'))));
    // 3 refused by the IdP (the user's budget), then refusals that cost the address, 5 in all.
    expect(answers.slice(0, 3)).toEqual(['401', '401', '401']);
    expect(calls).toHaveLength(4);
    expect(answers.slice(3).every((a) => a.startsWith('429'))).toBe(true);
    // The address is locked now: the right password (the job's own requests included) gets the same 429 as a wrong one.
    const [rightAnswer, wrongAnswer] = [
      answer(await outcome(() => exchange.token('alice', 'secret', '10.0.0.2'))),
      answer(await outcome(() => exchange.token('alice', 'nope', '10.0.0.2'))),
    ];
    expect(rightAnswer).toMatch(/^429/);
    expect(rightAnswer).toBe(wrongAnswer);
  });

  it('a lockout caused elsewhere does not make the locked user’s retries lock a shared address (the jobs behind it keep working)', async () => {
    const { exchange } = setup({ alice: 'secret', bob: 'his' });
    await exchange.token('alice', 'secret', '10.0.0.2'); // alice's job on a shared host
    for (let i = 0; i < 3; i++) await outcome(() => exchange.token('bob', `guess-${i}`, '10.6.6.6')); // bob locked out from elsewhere
    // bob, on the shared host, retries many times (his client backs off and retries on 429).
    for (let i = 0; i < 50; i++) expect(await outcome(() => exchange.token('bob', 'his', '10.0.0.2'))).toBeInstanceOf(Throttled);
    expect(exchange.token('alice', 'secret', '10.0.0.2')).toMatch(/^at-alice-/);
  });

  it('keeps the owner index within the cache', async () => {
    const small: Config = { ...config, basic: { ...config.basic, maxEntries: 10 } };
    const passwords = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`user-${i}`, 'pw']));
    const { exchange } = setup(passwords, { config: small });
    for (let i = 0; i < 100; i++) {
      await exchange.token(`user-${i}`, 'pw', '10.0.0.1');
      exchange.token(`user-${i}`, 'pw', '10.0.0.2');
    }
    expect(exchange.usage).toEqual({ entries: 10, ownerPairs: 20 });
  });

  it.each([
    ['one user from one address', (i: number) => ['carol', `g-${i}`, '10.0.0.9'], 3],
    ['one user from 200 addresses', (i: number) => ['carol', `g-${i}`, `10.1.0.${i}`], 3],
    ['200 users from one address', (i: number) => [`user-${i}`, 'g', '10.0.0.9'], 5],
  ] as const)(
    '200 concurrent wrong guesses (%s) put at most the limit of grants through to the IdP (issue 10 A2b)',
    async (_name, guess, limit) => {
      for (const limiter of [
        undefined,
        (used: Config) =>
          asynchronous(
            new MemoryFailureLimiter(
              {
                windowMs: used.basic.windowSeconds * 1000,
                lockoutMs: used.basic.lockoutSeconds * 1000,
                maxEntries: 1_000,
                attemptTtlMs: 60_000,
              },
              clock,
            ),
          ),
      ]) {
        const { exchange, calls } = setup({ carol: 'hers' }, { limiter });
        const results = await Promise.all(
          Array.from({ length: 200 }, (_, i) => outcome(() => exchange.token(...(guess(i) as [string, string, string])))),
        );
        expect(calls.length).toBeLessThanOrEqual(limit);
        expect(calls.length).toBeGreaterThan(0);
        expect(results.filter((r) => r instanceof BadCredentials)).toHaveLength(calls.length);
        expect(results.filter((r) => r instanceof Throttled)).toHaveLength(200 - calls.length);
      }
    },
  );

  it('holds with a limiter that answers asynchronously (the seam for a shared store)', async () => {
    const { exchange, calls } = setup(
      { alice: 'secret' },
      {
        limiter: () =>
          asynchronous(new MemoryFailureLimiter({ windowMs: 300_000, lockoutMs: 60_000, maxEntries: 100, attemptTtlMs: 60_000 }, clock)),
      },
    );
    expect(await exchange.token('alice', 'secret', '10.0.0.2')).toBe('at-alice-1');
    for (let i = 0; i < 3; i++)
      expect(await outcome(() => exchange.token('alice', `guess-${i}`, '10.6.6.6'))).toBeInstanceOf(BadCredentials);
    expect(answer(await outcome(() => exchange.token('alice', 'secret', '10.6.6.6')))).toBe('429 retry-after 60');
    expect(answer(await outcome(() => exchange.token('alice', 'wrong', '10.6.6.6')))).toBe('429 retry-after 60');
    expect(await exchange.token('alice', 'secret', '10.0.0.2')).toBe('at-alice-1');
    expect(calls).toHaveLength(4);
  });

  it('an IdP that does not answer costs no budget', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const down = new BasicExchange(
      config,
      { password: async () => Promise.reject(new IdpUnavailable()), refresh: async () => ({ refused: 'x' }) },
      metrics,
      createLogger('silent'),
      clock,
    );
    for (let i = 0; i < 10; i++) expect(await outcome(() => down.token('bob', 'right', '10.0.0.1'))).toBeInstanceOf(IdpUnavailable);
  });

  it('re-checks the password of an owner after maxAgeSeconds even while the user is locked out', async () => {
    const shortAge: Config = { ...config, basic: { ...config.basic, maxAgeSeconds: 30 } };
    const { exchange, calls } = setup({ alice: 'secret' }, { config: shortAge });
    await exchange.token('alice', 'secret', '10.0.0.2');
    for (let i = 0; i < 3; i++) await outcome(() => exchange.token('alice', `guess-${i}`, '10.6.6.6'));
    now += 31_000; // the lockout (60 s) is still on
    expect(await exchange.token('alice', 'secret', '10.0.0.2')).toBe('at-alice-2');
    expect(calls.filter((call) => call === 'password alice')).toHaveLength(5);
    expect(exchange.token('alice', 'secret', '10.0.0.2')).toBe('at-alice-2');
  });

  it('treats a client that may not use the password grant as a deployment error, not a wrong password', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const exchange = new BasicExchange(
      config,
      { password: async () => ({ refused: 'unauthorized_client' }), refresh: async () => ({ refused: 'x' }) },
      metrics,
      createLogger('silent'),
      clock,
    );
    await expect(outcome(() => exchange.token('bob', 'right', undefined))).resolves.toBeInstanceOf(IdpUnavailable);
  });
});
