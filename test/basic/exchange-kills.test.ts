/**
 * BasicExchange: which budget a refusal names, who stays an owner of a cached check, how every
 * kind of grant outcome settles its attempt, the owner index's bound, renewal and forgetting.
 * Written for the mutation run of src/basic/exchange.ts (docs/mutation.md, round 4): each test
 * pins a rule whose change the main tests did not notice.
 */
import { BasicExchange, type PasswordGrants } from '../../src/basic/exchange.js';
import type { Attempt, FailureLimiter, LimitKey } from '../../src/basic/limiter.js';
import { MemoryFailureLimiter } from '../../src/basic/memory-limiter.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { BadCredentials, IdpUnavailable, Throttled } from '../../src/errors.js';
import type { GrantedTokens, GrantRefused } from '../../src/idp/grants.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/ops/metrics.js';
import { LogCapture } from '../helpers/service.js';

const loaded = loadConfig({
  AUTHZ_ISSUER_URL: 'http://127.0.0.1:1/realms/x',
  AUTHZ_CLIENT_ID: 'nginx-authz',
  AUTHZ_BASIC_ENABLED: 'true',
  AUTHZ_BASIC_MAX_FAILURES_PER_USER: '3',
  AUTHZ_BASIC_MAX_FAILURES_PER_ADDRESS: '5',
  AUTHZ_BASIC_LOCKOUT_SECONDS: '60',
});
const MAX_AGE_S = 30;
const config: Config = { ...loaded, basic: { ...loaded.basic, maxAgeSeconds: MAX_AGE_S } };
/** A password check that outlives the access token, so that renewal comes first. */
const longCheck: Config = { ...loaded, basic: { ...loaded.basic, maxAgeSeconds: 3_600 } };

let now = 1_000_000;
const clock = () => now;

/** What a call ended with: its value or its error (never an unhandled rejection). */
async function outcome(call: () => unknown): Promise<unknown> {
  try {
    return await call();
  } catch (error) {
    return error;
  }
}

/** An unsigned JWT-shaped token (claimsOf only reads the payload). */
const jwt = (claims: Record<string, unknown>): string => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;

function setup(options: { config?: Config; limiter?: FailureLimiter; refreshToken?: boolean; logs?: LogCapture } = {}) {
  const passwords: Record<string, string> = { alice: 'secret', bob: 'his' };
  const calls: string[] = [];
  /** What the password grant answers instead of checking the password (e.g. an OAuth error). */
  let refusal: string | undefined;
  let serial = 0;
  const tokens = (user: string, refreshToken: string | undefined): GrantedTokens => ({
    accessToken: `${jwt({ iss: 'http://127.0.0.1:1/realms/x', sub: `sub-${user}` })}.${user}-${++serial}`,
    accessExpiresAtMs: now + 300_000,
    refreshToken,
    idToken: undefined,
  });
  const refreshAnswers: Array<GrantedTokens | GrantRefused> = [];
  const grants: PasswordGrants = {
    password: async (username, password) => {
      calls.push(`password ${username}`);
      for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
      if (refusal !== undefined) return { refused: refusal };
      return passwords[username] === password
        ? tokens(username, options.refreshToken === false ? undefined : `rt-${username}-${serial + 1}`)
        : { refused: 'invalid_grant' };
    },
    refresh: async (refreshToken) => {
      calls.push(`refresh ${refreshToken}`);
      return refreshAnswers.shift() ?? { refused: 'invalid_grant' };
    },
  };
  const metrics = new Metrics({ defaultMetrics: false });
  const exchange = new BasicExchange(
    options.config ?? config,
    grants,
    metrics,
    options.logs === undefined ? createLogger('silent') : createLogger('info', options.logs),
    clock,
    options.limiter,
  );
  return {
    exchange,
    calls,
    metrics,
    passwords,
    refreshAnswers,
    tokens,
    refuseWith: (error: string | undefined) => {
      refusal = error;
    },
  };
}

/** Locks `user` out (3 wrong guesses) from an address that owns nothing. */
async function lockOut(exchange: BasicExchange, user: string): Promise<void> {
  for (let i = 0; i < 3; i++) await outcome(() => exchange.token(user, `guess-${i}`, '10.6.6.6'));
}

const owner = (token: unknown, user: string) => expect(token).toEqual(expect.stringContaining(`.${user}-`));

describe('BasicExchange: which budget refused', () => {
  it('names the address when the address is locked and the user is not (status, Retry-After, metric)', async () => {
    const { exchange, metrics } = setup();
    for (let i = 0; i < 5; i++) await outcome(() => exchange.token(`user-${i}`, 'x', '10.0.0.66'));
    now += 10_000;
    const thrown = await outcome(() => exchange.token('bob', 'his', '10.0.0.66'));
    expect(thrown).toBeInstanceOf(Throttled);
    expect((thrown as Throttled).by).toBe('address');
    expect((thrown as Throttled).retryAfterSeconds).toBe(50);
    expect((await metrics.basicThrottled.get()).values).toEqual([{ labels: { by: 'address' }, value: 1 }]);
  });

  it('names the longer wait when both are locked', async () => {
    const { exchange } = setup();
    for (let i = 0; i < 5; i++) await outcome(() => exchange.token(`user-${i}`, 'x', '10.0.0.66')); // the address: 60 s
    now += 20_000;
    await lockOut(exchange, 'bob'); // the user: 60 s from now
    const thrown = (await outcome(() => exchange.token('bob', 'his', '10.0.0.66'))) as Throttled;
    expect([thrown.by, thrown.retryAfterSeconds]).toEqual(['user', 60]);
  });

  it('names the user when both waits are equal, and says why in the detail', async () => {
    const { exchange, metrics } = setup();
    for (let i = 0; i < 5; i++) await outcome(() => exchange.token(`user-${i}`, 'x', '10.0.0.66')); // the address: 60 s
    await lockOut(exchange, 'bob'); // the user: 60 s, the same instant
    const thrown = (await outcome(() => exchange.token('bob', 'his', '10.0.0.66'))) as Throttled;
    expect([thrown.by, thrown.retryAfterSeconds]).toEqual(['user', 60]);
    expect(thrown.detail).toBe('Basic attempt refused: user locked out or its attempts in use');
    expect((await metrics.basicThrottled.get()).values).toEqual([{ labels: { by: 'user' }, value: 1 }]);
  });
});

describe('BasicExchange: owners of a cached check', () => {
  it('a new check from a new address keeps the earlier owners (both are served during a lockout)', async () => {
    const { exchange, calls } = setup();
    owner(await exchange.token('alice', 'secret', '10.0.0.2'), 'alice');
    now += MAX_AGE_S * 1000;
    owner(await exchange.token('alice', 'secret', '10.0.0.3'), 'alice'); // stale: a new grant
    expect(calls).toEqual(['password alice', 'password alice']);
    await lockOut(exchange, 'alice');
    owner(exchange.token('alice', 'secret', '10.0.0.2'), 'alice');
    owner(exchange.token('alice', 'secret', '10.0.0.3'), 'alice');
    expect(await outcome(() => exchange.token('alice', 'secret', '10.0.0.4'))).toBeInstanceOf(Throttled);
  });

  it('concurrent re-checks of two users from one owner address each get their own token', async () => {
    const { exchange, calls } = setup();
    await exchange.token('alice', 'secret', '10.0.0.2');
    await exchange.token('bob', 'his', '10.0.0.2');
    now += MAX_AGE_S * 1000;
    const [a, b] = await Promise.all([exchange.token('alice', 'secret', '10.0.0.2'), exchange.token('bob', 'his', '10.0.0.2')]);
    owner(a, 'alice');
    owner(b, 'bob');
    expect(calls.filter((call) => call === 'password bob')).toHaveLength(2);
  });

  it('remembers at most 8 owner addresses per cached check, newest first; a dropped one pays again', async () => {
    const { exchange } = setup();
    await exchange.token('alice', 'secret', '10.0.0.0');
    for (let i = 1; i <= 8; i++) owner(exchange.token('alice', 'secret', `10.0.0.${i}`), 'alice'); // 9 addresses in all
    expect(exchange.usage).toEqual({ entries: 1, ownerPairs: 8 });
    await lockOut(exchange, 'alice');
    for (let i = 1; i <= 8; i++) owner(exchange.token('alice', 'secret', `10.0.0.${i}`), 'alice');
    expect(await outcome(() => exchange.token('alice', 'secret', '10.0.0.0'))).toBeInstanceOf(Throttled);
  });

  it('a new check from a ninth address keeps 8 owners', async () => {
    const { exchange } = setup();
    await exchange.token('alice', 'secret', '10.0.0.0');
    for (let i = 1; i <= 7; i++) exchange.token('alice', 'secret', `10.0.0.${i}`);
    now += MAX_AGE_S * 1000;
    owner(await exchange.token('alice', 'secret', '10.0.0.8'), 'alice'); // a new grant, 9 addresses known
    expect(exchange.usage).toEqual({ entries: 1, ownerPairs: 8 });
    await lockOut(exchange, 'alice');
    owner(exchange.token('alice', 'secret', '10.0.0.1'), 'alice');
    expect(await outcome(() => exchange.token('alice', 'secret', '10.0.0.0'))).toBeInstanceOf(Throttled);
  });

  it('owners coming back in turn do not grow the owner index beyond the cache', async () => {
    const small: Config = { ...config, basic: { ...config.basic, maxEntries: 4 } };
    const { exchange, passwords } = setup({ config: small });
    for (let i = 0; i < 20; i++) {
      passwords[`user-${i}`] = 'pw';
      await exchange.token(`user-${i}`, 'pw', '10.0.0.1');
      exchange.token(`user-${i}`, 'pw', '10.0.0.2'); // owners [2, 1]
      exchange.token(`user-${i}`, 'pw', '10.0.0.1'); // back to [1, 2]
      exchange.token(`user-${i}`, 'pw', '10.0.0.2');
    }
    expect(exchange.usage).toEqual({ entries: 4, ownerPairs: 8 });
  });
});

describe('BasicExchange: every outcome settles its attempt', () => {
  it('a client not allowed the password grant stays a 503, never turns into a lockout', async () => {
    const { exchange, refuseWith } = setup();
    refuseWith('unauthorized_client');
    for (let i = 0; i < 10; i++) expect(await outcome(() => exchange.token('alice', 'secret', '10.0.0.2'))).toBeInstanceOf(IdpUnavailable);
    // The operator's log line names the client's misconfiguration, not a password problem.
    expect(await outcome(() => exchange.token('alice', 'secret', '10.0.0.2'))).toMatchObject({
      detail: 'password grant on basic.clientId refused: unauthorized_client (is the grant allowed on that client?)',
    });
  });

  it('a wrong password is a BadCredentials that says the IdP refused it', async () => {
    const { exchange } = setup();
    const refused = await outcome(() => exchange.token('alice', 'nope', '10.0.0.2'));
    expect(refused).toBeInstanceOf(BadCredentials);
    expect(refused).toMatchObject({ detail: 'the IdP refused the Basic credentials' });
  });

  it('successful grants release their attempt: more successes than the budget from one address', async () => {
    const { exchange, passwords } = setup();
    for (let i = 0; i < 8; i++) {
      passwords[`user-${i}`] = 'pw';
      owner(await exchange.token(`user-${i}`, 'pw', '10.0.0.1'), `user-${i}`);
    }
  });

  it('a success forgets the user’s earlier failures', async () => {
    const { exchange } = setup();
    await outcome(() => exchange.token('alice', 'g1', '10.0.0.1'));
    await outcome(() => exchange.token('alice', 'g2', '10.0.0.2'));
    owner(await exchange.token('alice', 'secret', '10.0.0.3'), 'alice');
    expect(await outcome(() => exchange.token('alice', 'g3', '10.0.0.4'))).toBeInstanceOf(BadCredentials);
    expect(await outcome(() => exchange.token('alice', 'g4', '10.0.0.5'))).toBeInstanceOf(BadCredentials);
    expect(await outcome(() => exchange.token('alice', 'g5', '10.0.0.7'))).toBeInstanceOf(BadCredentials);
  });

  it('cache hits from new addresses release their attempt too', async () => {
    const { exchange, calls } = setup();
    await exchange.token('alice', 'secret', '10.0.0.1');
    for (let i = 2; i < 9; i++) owner(exchange.token('alice', 'secret', `10.0.1.${i}`), 'alice');
    expect(calls).toHaveLength(1);
  });

  it('a limiter that fails to record is logged, never fails the request', async () => {
    const inner = new MemoryFailureLimiter({ windowMs: 60_000, lockoutMs: 60_000, maxEntries: 100, attemptTtlMs: 60_000 }, clock);
    const broken = () => Promise.reject(new Error('store down'));
    const limiter: FailureLimiter = {
      reserve: (keys: readonly LimitKey[]) => Promise.resolve(inner.reserve(keys)),
      fail: (_attempt: Attempt) => broken(),
      succeed: (_attempt: Attempt) => broken(),
      cancel: (_attempt: Attempt) => broken(),
      charge: (_keys: readonly LimitKey[]) => broken(),
      retryAfter: (keys: readonly LimitKey[]) => Promise.resolve(inner.retryAfter(keys)),
    };
    const logs = new LogCapture();
    const { exchange } = setup({ limiter, logs });
    owner(await exchange.token('alice', 'secret', '10.0.0.1'), 'alice');
    expect(await outcome(() => exchange.token('alice', 'nope', '10.0.0.1'))).toBeInstanceOf(BadCredentials);
    await new Promise((resolve) => setImmediate(resolve));
    const warnings = logs.records.filter((r) => r.msg === 'Basic: failure limiter did not record an attempt');
    expect(warnings.length).toBeGreaterThanOrEqual(2); // the success, then the failure
    expect(warnings[0]).toMatchObject({ level: 40, err: { message: 'store down' } });
  });
});

describe('BasicExchange: re-checks, renewal and forgetting', () => {
  it('an owner whose password changed at the IdP gets 401 on the re-check, and the cached token is gone', async () => {
    const { exchange, passwords, calls } = setup();
    await exchange.token('alice', 'secret', '10.0.0.2');
    passwords.alice = 'changed';
    now += MAX_AGE_S * 1000;
    expect(await outcome(() => exchange.token('alice', 'secret', '10.0.0.2'))).toBeInstanceOf(BadCredentials);
    expect(exchange.size).toBe(0);
    expect(calls).toEqual(['password alice', 'password alice']);
  });

  it('without a refresh token, renewal goes straight to the password grant', async () => {
    const { exchange, calls } = setup({ config: longCheck, refreshToken: false });
    const first = await exchange.token('alice', 'secret', '10.0.0.2');
    now += 271_000; // 29 s left of the access token, inside the 30 s margin
    const renewed = await exchange.token('alice', 'secret', '10.0.0.2');
    owner(renewed, 'alice');
    expect(renewed).not.toBe(first);
    expect(calls).toEqual(['password alice', 'password alice']);
  });

  it('a refresh answer without a new refresh token keeps the old one for the next renewal', async () => {
    const { exchange, calls, refreshAnswers, tokens } = setup({ config: longCheck });
    await exchange.token('alice', 'secret', '10.0.0.2');
    now += 271_000;
    refreshAnswers.push(tokens('alice', undefined));
    owner(await exchange.token('alice', 'secret', '10.0.0.2'), 'alice');
    now += 271_000;
    refreshAnswers.push(tokens('alice', 'rt-new'));
    owner(await exchange.token('alice', 'secret', '10.0.0.2'), 'alice');
    expect(calls).toEqual(['password alice', 'refresh rt-alice-1', 'refresh rt-alice-1']);
  });

  it('a refused refresh falls back to the password grant, keeping the owners', async () => {
    const { exchange, calls } = setup({ config: longCheck });
    await exchange.token('alice', 'secret', '10.0.0.2');
    exchange.token('alice', 'secret', '10.0.0.3');
    now += 271_000;
    owner(await exchange.token('alice', 'secret', '10.0.0.2'), 'alice');
    expect(calls).toEqual(['password alice', 'refresh rt-alice-1', 'password alice']);
    expect(exchange.usage).toEqual({ entries: 1, ownerPairs: 2 });
  });

  it('a refused refresh is logged with its OAuth error before the password is exchanged again', async () => {
    const logs = new LogCapture();
    const { exchange } = setup({ config: longCheck, logs });
    await exchange.token('alice', 'secret', '10.0.0.2');
    now += 271_000;
    await exchange.token('alice', 'secret', '10.0.0.2');
    expect(logs.records.filter((r) => r.oauth_error !== undefined)).toEqual([
      expect.objectContaining({ level: 30, oauth_error: 'invalid_grant', msg: 'Basic: refresh refused; exchanging the password again' }),
    ]);
  });

  it('forget drops exactly the exchanges whose token the logout names', async () => {
    const { exchange } = setup();
    await exchange.token('alice', 'secret', '10.0.0.2');
    await exchange.token('bob', 'his', '10.0.0.2');
    const named: unknown[] = [];
    expect(
      exchange.forget((token) => {
        named.push(token);
        return token.sub === 'sub-alice';
      }),
    ).toBe(1);
    expect(named).toContainEqual({ iss: 'http://127.0.0.1:1/realms/x', sub: 'sub-alice', sid: undefined, issuedAtMs: undefined });
    expect(exchange.usage).toEqual({ entries: 1, ownerPairs: 1 });
    expect(exchange.forget(() => false)).toBe(0);
    expect(exchange.size).toBe(1);
  });

  it('counts the grants by kind and outcome', async () => {
    const { exchange, metrics } = setup({ config: longCheck });
    await exchange.token('alice', 'secret', '10.0.0.2');
    await outcome(() => exchange.token('alice', 'wrong', '10.0.0.2'));
    now += 271_000;
    await exchange.token('alice', 'secret', '10.0.0.2'); // refresh refused, then the password again
    const values = (await metrics.passwordGrants.get()).values.map((v) => [v.labels.grant, v.labels.result, v.value]);
    expect(values).toEqual(
      expect.arrayContaining([
        ['password', 'ok', 2],
        ['password', 'rejected', 1],
        ['refresh_token', 'rejected', 1],
      ]),
    );
    expect(values).toHaveLength(3);
  });

  it('counts a grant that did not answer as an error', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const down = new BasicExchange(
      config,
      { password: async () => Promise.reject(new IdpUnavailable()), refresh: async () => ({ refused: 'x' }) },
      metrics,
      createLogger('silent'),
      clock,
    );
    await outcome(() => down.token('bob', 'right', '10.0.0.1'));
    expect((await metrics.passwordGrants.get()).values.map((v) => [v.labels.grant, v.labels.result, v.value])).toEqual([
      ['password', 'error', 1],
    ]);
  });
});
