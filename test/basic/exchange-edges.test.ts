/**
 * BasicExchange: a cached password check lasts exactly `basic.maxAgeSeconds`, on the owner's
 * synchronous path and on the path of a new address. Found unguarded by a hand mutation run of
 * src/basic/exchange.ts (docs/mutation.md: `<` made `<=` survived the main tests).
 */
import { BasicExchange, type PasswordGrants } from '../../src/basic/exchange.js';
import { loadConfig } from '../../src/config/load.js';
import type { GrantedTokens, GrantRefused } from '../../src/idp/grants.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/ops/metrics.js';

const config = loadConfig({
  AUTHZ_ISSUER_URL: 'http://127.0.0.1:1/realms/x',
  AUTHZ_CLIENT_ID: 'nginx-authz',
  AUTHZ_BASIC_ENABLED: 'true',
});
const MAX_AGE_MS = 30_000;
let now = 1_000_000;

function setup() {
  const calls: string[] = [];
  let serial = 0;
  const grants: PasswordGrants = {
    password: async (username, password): Promise<GrantedTokens | GrantRefused> => {
      calls.push(`password ${username}`);
      return password === 'secret'
        ? { accessToken: `at-${++serial}`, accessExpiresAtMs: now + 300_000, refreshToken: undefined, idToken: undefined }
        : { refused: 'invalid_grant' };
    },
    refresh: async () => ({ refused: 'invalid_grant' }),
  };
  const used = { ...config, basic: { ...config.basic, maxAgeSeconds: MAX_AGE_MS / 1000 } };
  const exchange = new BasicExchange(used, grants, new Metrics({ defaultMetrics: false }), createLogger('silent'), () => now, undefined);
  return { exchange, calls };
}

describe('BasicExchange: the password check is re-done at maxAgeSeconds exactly', () => {
  it('for the address that owns the cached check', async () => {
    const { exchange, calls } = setup();
    const checkedAt = now;
    expect(await exchange.token('alice', 'secret', '10.0.0.2')).toBe('at-1');
    now = checkedAt + MAX_AGE_MS - 1;
    expect(exchange.token('alice', 'secret', '10.0.0.2')).toBe('at-1');
    expect(calls).toHaveLength(1);
    now = checkedAt + MAX_AGE_MS;
    expect(await exchange.token('alice', 'secret', '10.0.0.2')).toBe('at-2');
    expect(calls).toHaveLength(2);
  });

  it('for a new address (which pays an attempt, then may use the cached check while it is fresh)', async () => {
    const fresh = setup();
    let checkedAt = now;
    await fresh.exchange.token('alice', 'secret', '10.0.0.2');
    now = checkedAt + MAX_AGE_MS - 1;
    expect(await fresh.exchange.token('alice', 'secret', '10.0.0.3')).toBe('at-1');
    expect(fresh.calls).toHaveLength(1);

    const stale = setup();
    checkedAt = now;
    await stale.exchange.token('alice', 'secret', '10.0.0.2');
    now = checkedAt + MAX_AGE_MS;
    expect(await stale.exchange.token('alice', 'secret', '10.0.0.3')).toBe('at-2');
    expect(stale.calls).toHaveLength(2);
  });
});
