/**
 * BasicExchange's own failure limiter (no limiter passed in): the window its failures count in
 * (`basic.windowSeconds`) and how long an attempt whose IdP call never ends holds its budget
 * (4 × `decision.timeoutMs` + 10 s). Written for the mutation run of src/basic/exchange.ts
 * (docs/mutation.md, round 5).
 */
import { BasicExchange, type PasswordGrants } from '../../src/basic/exchange.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { BadCredentials, Throttled } from '../../src/errors.js';
import { limitKeyId, type FailureLimiter, type LimitKey } from '../../src/basic/limiter.js';
import { MemoryFailureLimiter } from '../../src/basic/memory-limiter.js';
import type { GrantedTokens, GrantRefused } from '../../src/idp/grants.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/ops/metrics.js';

const loaded = loadConfig({
  AUTHZ_ISSUER_URL: 'http://127.0.0.1:1/realms/x',
  AUTHZ_CLIENT_ID: 'nginx-authz',
  AUTHZ_BASIC_ENABLED: 'true',
  AUTHZ_BASIC_MAX_FAILURES_PER_USER: '3',
  AUTHZ_BASIC_MAX_FAILURES_PER_ADDRESS: '100',
  AUTHZ_BASIC_LOCKOUT_SECONDS: '60',
  AUTHZ_DECISION_TIMEOUT_MS: '1500', // an attempt is held 4 × 1.5 s + 10 s = 16 s at most
});
const config: Config = { ...loaded, basic: { ...loaded.basic, windowSeconds: 300 } };

let now = 1_000_000;

async function outcome(call: () => unknown): Promise<unknown> {
  try {
    return await call();
  } catch (error) {
    return error;
  }
}

/** An unsigned JWT-shaped access token (the exchange reads only its payload, for a logout). */
const jwt = (claims: Record<string, unknown>): string => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
let tokens: GrantedTokens = {
  accessToken: 'opaque',
  accessExpiresAtMs: Number.MAX_SAFE_INTEGER,
  refreshToken: undefined,
  idToken: undefined,
};

/** Password grants that know alice's password and refuse every other, or hang until released. */
function setup(limiter?: FailureLimiter) {
  const calls: string[] = [];
  const hanging: Array<(answer: GrantedTokens | GrantRefused) => void> = [];
  let hang = false;
  const grants: PasswordGrants = {
    password: (username, password) => {
      calls.push(username);
      if (hang) return new Promise((resolve) => hanging.push(resolve));
      if (username === 'alice' && password === 'secret') return Promise.resolve(tokens);
      return Promise.resolve({ refused: 'invalid_grant' });
    },
    refresh: async () => ({ refused: 'invalid_grant' }),
  };
  const exchange = new BasicExchange(config, grants, new Metrics({ defaultMetrics: false }), createLogger('silent'), () => now, limiter);
  return {
    exchange,
    calls,
    hanging,
    hangFromNowOn: () => {
      hang = true;
    },
  };
}

describe('BasicExchange: its own failure limiter', () => {
  it('counts failures within basic.windowSeconds, spread over minutes, and forgets older ones', async () => {
    const { exchange } = setup();
    // Three wrong guesses 100 s apart: all within 300 s, so the user is locked.
    for (let i = 0; i < 3; i++) {
      if (i > 0) now += 100_000;
      expect(await outcome(() => exchange.token('alice', `guess-${i}`, `10.0.1.${i}`))).toBeInstanceOf(BadCredentials);
    }
    expect(await outcome(() => exchange.token('alice', 'guess-3', '10.0.1.9'))).toBeInstanceOf(Throttled);

    // Three guesses at 0 s, 150 s, 300 s: the first has left the window when the third fails.
    for (const step of [0, 150_000, 150_000]) {
      now += step;
      expect(await outcome(() => exchange.token('bob', `guess-${step}-${now}`, '10.0.2.1'))).toBeInstanceOf(BadCredentials);
    }
    expect(await outcome(() => exchange.token('bob', 'one-more', '10.0.2.2'))).toBeInstanceOf(BadCredentials);
  });

  it('holds the budget of an attempt whose IdP call hangs for 4 × decision.timeoutMs + 10 s, then lets it go', async () => {
    const { exchange, calls, hanging, hangFromNowOn } = setup();
    // Two failures, then a third guess whose grant never answers: the user's budget (3) is full.
    for (let i = 0; i < 2; i++) await outcome(() => exchange.token('carol', `guess-${i}`, '10.0.3.1'));
    hangFromNowOn();
    const stuck = exchange.token('carol', 'guess-2', '10.0.3.1');
    expect(stuck).toBeInstanceOf(Promise);
    expect(calls).toEqual(['carol', 'carol', 'carol']);

    now += 15_999;
    const refused = await outcome(() => exchange.token('carol', 'guess-3', '10.0.3.2'));
    expect(refused).toBeInstanceOf(Throttled);
    expect((refused as Throttled).retryAfterSeconds).toBe(1); // in use, not locked out
    expect(calls).toHaveLength(3);

    now += 1; // 16 s: the abandoned attempt no longer holds the budget
    const next = exchange.token('carol', 'guess-4', '10.0.3.3');
    expect(calls).toHaveLength(4);
    for (const release of hanging) release({ refused: 'invalid_grant' });
    await outcome(() => stuck);
    await outcome(() => next);
  });
});

describe('BasicExchange: the budgets it asks the limiter for', () => {
  it('one per user whatever the case of the name, one per address (none given: the empty address); only the user forgets on success', async () => {
    const reserved: LimitKey[][] = [];
    const memory = new MemoryFailureLimiter({ windowMs: 300_000, lockoutMs: 60_000, maxEntries: 100, attemptTtlMs: 16_000 }, () => now);
    const recording: FailureLimiter = {
      reserve: (keys) => {
        reserved.push([...keys]);
        return memory.reserve(keys);
      },
      fail: (attempt) => memory.fail(attempt),
      succeed: (attempt) => memory.succeed(attempt),
      cancel: (attempt) => memory.cancel(attempt),
      charge: (keys) => memory.charge(keys),
      retryAfter: (keys) => memory.retryAfter(keys),
    };
    const { exchange } = setup(recording);
    await outcome(() => exchange.token('ALICE', 'wrong', '10.0.4.1'));
    await outcome(() => exchange.token('alice', 'wrong', undefined));
    const user = { id: limitKeyId('user', 'alice'), maxFailures: 3, forgetOnSuccess: true };
    expect(reserved).toEqual([
      [user, { id: limitKeyId('address', '10.0.4.1'), maxFailures: 100, forgetOnSuccess: false }],
      [user, { id: limitKeyId('address', ''), maxFailures: 100, forgetOnSuccess: false }],
    ]);
  });

  it("a success does not wipe its address's failures: guesses at other users from there still add up to a lockout", async () => {
    const strict: Config = { ...config, basic: { ...config.basic, maxFailuresPerAddress: 5 } };
    const exchange = new BasicExchange(
      strict,
      {
        password: async (u, p) => (u === 'alice' && p === 'secret' ? tokens : { refused: 'invalid_grant' }),
        refresh: async () => ({ refused: 'x' }),
      },
      new Metrics({ defaultMetrics: false }),
      createLogger('silent'),
      () => now,
    );
    for (let i = 0; i < 4; i++) expect(await outcome(() => exchange.token(`user-${i}`, 'x', '10.0.5.1'))).toBeInstanceOf(BadCredentials);
    expect(await exchange.token('alice', 'secret', '10.0.5.1')).toBe(tokens.accessToken);
    expect(await outcome(() => exchange.token('user-4', 'x', '10.0.5.1'))).toBeInstanceOf(BadCredentials); // the fifth failure
    const refused = await outcome(() => exchange.token('user-5', 'x', '10.0.5.1'));
    expect(refused).toBeInstanceOf(Throttled);
    expect((refused as Throttled).by).toBe('address');
  });
});

describe('BasicExchange: forgetting for a logout', () => {
  it('never asks about a cached exchange whose tokens carry no subject', async () => {
    const { exchange } = setup();
    tokens = {
      accessToken: jwt({ iss: 'http://127.0.0.1:1/realms/x' }),
      accessExpiresAtMs: now + 300_000,
      refreshToken: undefined,
      idToken: undefined,
    };
    await exchange.token('alice', 'secret', '10.0.6.1');
    const asked: unknown[] = [];
    expect(
      exchange.forget((token) => {
        asked.push(token);
        return true;
      }),
    ).toBe(0);
    expect(asked).toEqual([]);
    expect(exchange.size).toBe(1);
  });
});

/** A token answer valid for `ms` from now. */
const valid = (accessToken: string, ms: number, refreshToken?: string): GrantedTokens => ({
  accessToken,
  accessExpiresAtMs: now + ms,
  refreshToken,
  idToken: undefined,
});

/** An exchange with 5 failures per address, 3 per user, 60 s lockouts, a password check trusted for an hour. */
function strictExchange(
  password: PasswordGrants['password'],
  refresh: PasswordGrants['refresh'] = async () => ({ refused: 'invalid_grant' }),
) {
  const strict: Config = { ...config, basic: { ...config.basic, maxFailuresPerAddress: 5, maxAgeSeconds: 3_600 } };
  return new BasicExchange(strict, { password, refresh }, new Metrics({ defaultMetrics: false }), createLogger('silent'), () => now);
}

/**
 * Someone at `address` locks it out (60 s) guessing other users, then, 30 s later, tries alice's
 * cached credentials there 5 times. At an owner address each of those refusals costs the address a
 * failure, so the fifth locks it again for 60 s: 40 s later alice is still refused there, for 20 s.
 * @returns what alice gets at `address` 70 s after the first lockout
 */
async function ownerGuessingAt(exchange: BasicExchange, address: string): Promise<unknown> {
  for (let i = 0; i < 5; i++) expect(await outcome(() => exchange.token(`guess-${i}`, 'x', address))).toBeInstanceOf(BadCredentials);
  now += 30_000;
  for (let i = 0; i < 5; i++) expect(await outcome(() => exchange.token('alice', 'secret', address))).toBeInstanceOf(Throttled);
  now += 40_000;
  return outcome(() => exchange.token('alice', 'secret', address));
}

const alicesPassword =
  (answer: () => GrantedTokens): PasswordGrants['password'] =>
  async (u, p) =>
    u === 'alice' && p === 'secret' ? answer() : { refused: 'invalid_grant' };

describe('BasicExchange: owners of a cached exchange', () => {
  it('the refusals an owner address gets are charged to it (the scenario the tests below rely on)', async () => {
    const exchange = strictExchange(alicesPassword(() => valid('owned', 7_200_000)));
    expect(await exchange.token('alice', 'secret', '10.0.7.1')).toBe('owned');
    const last = await ownerGuessingAt(exchange, '10.0.7.1');
    expect(last).toBeInstanceOf(Throttled);
    expect((last as Throttled).retryAfterSeconds).toBe(20);
    // Not an owner: refusals there cost nothing, and the first lockout is over by now.
    const other = strictExchange(alicesPassword(() => valid('owned', 7_200_000)));
    expect(await ownerGuessingAt(other, '10.0.7.9')).toBe('owned');
  });

  it('an owner served again stays an owner in the index', async () => {
    const exchange = strictExchange(alicesPassword(() => valid('owned', 7_200_000)));
    expect(await exchange.token('alice', 'secret', '10.0.8.1')).toBe('owned');
    for (let i = 2; i <= 8; i++) expect(exchange.token('alice', 'secret', `10.0.8.${i}`)).toBe('owned');
    expect(exchange.usage).toEqual({ entries: 1, ownerPairs: 8 });
    expect(exchange.token('alice', 'secret', '10.0.8.1')).toBe('owned'); // the oldest owner, now the newest
    expect(exchange.usage).toEqual({ entries: 1, ownerPairs: 8 });
    const last = await ownerGuessingAt(exchange, '10.0.8.1');
    expect((last as Throttled).retryAfterSeconds).toBe(20);
  });

  it('a re-check of the password from an owner keeps all 8 owners (none listed twice)', async () => {
    const exchange = strictExchange(alicesPassword(() => valid(`checked-${now}`, 7_200_000)));
    await exchange.token('alice', 'secret', '10.0.9.1');
    for (let i = 2; i <= 8; i++) exchange.token('alice', 'secret', `10.0.9.${i}`); // owners: .8 newest ... .1 oldest
    now += 3_600_000; // the password is due for a new check
    expect(await exchange.token('alice', 'secret', '10.0.9.8')).toBe(`checked-${now}`);
    expect(exchange.usage).toEqual({ entries: 1, ownerPairs: 8 });
    // alice locked out elsewhere: every owner, the oldest included, is still served.
    for (let i = 0; i < 3; i++) await outcome(() => exchange.token('alice', `wrong-${i}`, '10.0.9.99'));
    expect(await outcome(() => exchange.token('alice', 'secret', '10.0.9.99'))).toBeInstanceOf(Throttled);
    for (let i = 1; i <= 8; i++) expect(exchange.token('alice', 'secret', `10.0.9.${i}`)).toBe(`checked-${now}`);
  });

  it("after a renewal by password (refresh refused), its owners are still the user's owners", async () => {
    let grants = 0;
    // The first token expires within the renewal margin (30 s); the renewed one lasts.
    const exchange = strictExchange(alicesPassword(() => (++grants === 1 ? valid('first', 10_000, 'rt-1') : valid('renewed', 7_200_000))));
    expect(await exchange.token('alice', 'secret', '10.0.10.1')).toBe('first');
    expect(await exchange.token('alice', 'secret', '10.0.10.1')).toBe('renewed');
    expect(grants).toBe(2);
    expect(exchange.usage).toEqual({ entries: 1, ownerPairs: 1 });
    const last = await ownerGuessingAt(exchange, '10.0.10.1');
    expect((last as Throttled).retryAfterSeconds).toBe(20);
  });
});
