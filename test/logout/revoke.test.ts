import { BasicExchange, type PasswordGrants } from '../../src/basic/exchange.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { Revoker } from '../../src/logout/revoke.js';
import { Metrics } from '../../src/ops/metrics.js';
import { MemorySessionStore } from '../../src/session/store.js';
import { hashToken } from '../../src/tokens/verify.js';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { SMALL_ROUTES } from '../helpers/service.js';
import { fakeIdp, type TestService, testService } from '../helpers/test-service.js';

let idp: FakeIdp;
let service: TestService;
beforeAll(async () => {
  idp = await fakeIdp();
});
beforeEach(async () => {
  ({ service } = await testService({ idp, env: SMALL_ROUTES }));
});

const nowSec = () => Math.floor(Date.now() / 1000);

/** Everything one user holds on this replica: a session, a cached identity and decision, a Basic exchange. */
async function holdings(sub: string, sid: string, sessions: MemorySessionStore, basic: BasicExchange) {
  const token = await idp.token({ sub, sid, iat: nowSec() - 5 });
  const idToken = await idp.token({ sub, sid, typ: 'ID' });
  const session = sessions.create({ accessToken: token, accessExpiresAtMs: Date.now() + 300_000, refreshToken: undefined, idToken });
  const identity = await service.tokens.verify(token);
  const key = `${identity.tokenHash}\u0000experiments\u0000read`;
  await service.decisions.check(key, identity.expiresAtMs, async () => undefined);
  const exchanged = await basic.token(sub, 'pw', '10.0.0.1');
  return { token, session, hash: identity.tokenHash, key, exchanged };
}

function parts() {
  const sessions = new MemorySessionStore({ idleTimeoutMs: 600_000, absoluteTimeoutMs: 3_600_000, maxEntries: 100 }, Date.now);
  const grants: PasswordGrants = {
    // The password grant answers with a fresh token of the user named.
    password: async (username) => ({
      accessToken: await idp.token({ sub: username, sid: `basic-${username}` }),
      accessExpiresAtMs: Date.now() + 300_000,
      refreshToken: undefined,
      idToken: undefined,
    }),
    refresh: async () => ({ error: 'invalid_grant' }) as never,
  };
  const config = loadConfig({ AUTHZ_ISSUER_URL: idp.url, AUTHZ_CLIENT_ID: 'nginx-authz', AUTHZ_BASIC_ENABLED: 'true' });
  const basic = new BasicExchange(config, grants, new Metrics({ defaultMetrics: false }), createLogger('silent'), Date.now);
  const revoker = new Revoker({
    revocations: service.revocations,
    tokens: service.tokens,
    decisions: service.decisions,
    sessions,
    basic,
    log: createLogger('silent'),
  });
  return { sessions, basic, revoker };
}

describe('Revoker.revoke', () => {
  it("removes exactly that subject's sessions, identities, decisions and Basic exchanges", async () => {
    const { sessions, basic, revoker } = parts();
    const alice = await holdings('alice', 'sid-a', sessions, basic);
    const bob = await holdings('bob', 'sid-b', sessions, basic);
    expect(basic.size).toBe(2);

    const purged = await revoker.revoke({ issuer: idp.url, sub: 'alice' });
    expect(purged).toEqual({ sessions: 1, tokens: 1, decisions: 1, basic: 1 });

    expect(sessions.get(alice.session.id)).toBeUndefined();
    expect(service.tokens.cached(alice.hash)).toBeUndefined();
    expect(service.decisions.peek(alice.key)).toBeUndefined();
    await expect(service.tokens.verify(alice.token)).rejects.toMatchObject({ code: 'invalid_token' });
    // Bob keeps everything.
    expect(sessions.get(bob.session.id)).toBeDefined();
    expect(service.tokens.cached(bob.hash)).toBeDefined();
    expect(service.decisions.peek(bob.key)).toBeDefined();
    expect(basic.size).toBe(1);
    // Idempotent: nothing more to remove.
    expect(await revoker.revoke({ issuer: idp.url, sub: 'alice' })).toEqual({ sessions: 0, tokens: 0, decisions: 0, basic: 0 });
  });

  it('with a sid, ends that IdP session only: the same user’s other session and tokens stay', async () => {
    const { sessions, basic, revoker } = parts();
    const first = await holdings('alice', 'sid-1', sessions, basic);
    const secondToken = await idp.token({ sub: 'alice', sid: 'sid-2', iat: nowSec() - 5 });
    const second = sessions.create({
      accessToken: secondToken,
      accessExpiresAtMs: Date.now() + 300_000,
      refreshToken: undefined,
      idToken: await idp.token({ sub: 'alice', sid: 'sid-2' }),
    });
    await service.tokens.verify(secondToken);

    const purged = await revoker.revoke({ issuer: idp.url, sub: 'alice', sid: 'sid-1' });
    expect(purged.sessions).toBe(1);
    expect(sessions.get(first.session.id)).toBeUndefined();
    expect(sessions.get(second.id)).toBeDefined();
    await expect(service.tokens.verify(first.token)).rejects.toMatchObject({ code: 'invalid_token' });
    expect(service.tokens.cached(hashToken(secondToken))).toBeDefined();
    // The Basic exchange has its own IdP session (basic-alice): untouched.
    expect(basic.size).toBe(1);
  });

  it('another issuer with the same sub is not touched', async () => {
    const { sessions, basic, revoker } = parts();
    const alice = await holdings('alice', 'sid-a', sessions, basic);
    expect(await revoker.revoke({ issuer: 'http://127.0.0.1:1/realms/other', sub: 'alice' })).toEqual({
      sessions: 0,
      tokens: 0,
      decisions: 0,
      basic: 0,
    });
    expect(sessions.get(alice.session.id)).toBeDefined();
    await expect(service.tokens.verify(alice.token)).resolves.toBeDefined();
  });

  it('batches logouts that arrive together into one scan, each still applied', async () => {
    const { sessions, basic, revoker } = parts();
    const users = await Promise.all(['u1', 'u2', 'u3'].map((sub) => holdings(sub, `sid-${sub}`, sessions, basic)));
    await Promise.all(['u1', 'u2', 'u3'].map((sub) => revoker.revoke({ issuer: idp.url, sub })));
    for (const user of users) {
      expect(sessions.get(user.session.id)).toBeUndefined();
      expect(service.tokens.cached(user.hash)).toBeUndefined();
    }
    expect(basic.size).toBe(0);
  });
});

describe('Revoker and NGINX decision cache', () => {
  it("purges the subject's NGINX entries when the logout names a sub, and leaves them to expire for a sid alone", async () => {
    const purged: string[] = [];
    const revoker = new Revoker({
      revocations: service.revocations,
      tokens: service.tokens,
      decisions: service.decisions,
      sessions: undefined,
      basic: undefined,
      nginx: {
        purgeSubject: async (sub) => {
          purged.push(sub);
          return 1;
        },
      },
      log: createLogger('silent'),
    });
    await revoker.revoke({ issuer: idp.url, sub: 'alice', sid: 'sid-a' });
    expect(purged).toEqual(['alice']);
    await revoker.revoke({ issuer: idp.url, sid: 'sid-b' });
    expect(purged).toEqual(['alice']);
  });
});
