/**
 * TokenVerifier and logouts: a token its subject's or session's logout revokes is refused whether
 * its identity is cached or verified afresh, and `forget` drops exactly the identities a logout
 * names. The mutation run of src/tokens/verify.ts showed these paths guarded only by the logout
 * tests (test/logout/), outside the verifier's own tests.
 */
import { Unauthenticated } from '../../src/errors.js';
import { Revocations } from '../../src/logout/revocations.js';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { SMALL_ROUTES } from '../helpers/service.js';
import { type TestService, testService } from '../helpers/test-service.js';

let idp: FakeIdp;
let service: TestService;
let now = Date.now();
const clock = () => now;

beforeEach(async () => {
  now = Date.now();
  ({ idp, service } = await testService({ clock, env: SMALL_ROUTES }));
});

/** A fresh revocation list on the verifier (what createService wires), so each case starts empty. */
function revocations(): Revocations {
  const list = new Revocations(3_600_000, 100, clock);
  service.tokens.revocations = list;
  return list;
}

const nowSec = () => Math.floor(now / 1000);

describe('a logout refuses the tokens issued before it', () => {
  it('a cached identity stops being served once its subject is logged out', async () => {
    const list = revocations();
    const token = await idp.token({ sub: 'user-1' }, { nowSec: nowSec() - 10 });
    const { tokenHash } = await service.tokens.verify(token);
    expect(service.tokens.cached(tokenHash)).toMatchObject({ subject: 'user-1' });
    list.record({ issuer: idp.url, sub: 'someone-else' });
    expect(service.tokens.cached(tokenHash)).toMatchObject({ subject: 'user-1' }); // another subject's logout
    list.record({ issuer: idp.url, sub: 'user-1' });
    expect(service.tokens.cached(tokenHash)).toBeUndefined();
    await expect(service.tokens.verify(token)).rejects.toMatchObject({ code: 'invalid_token' });
  });

  it('a token never seen, issued before its session was logged out, is refused on its first verification and not cached', async () => {
    const list = revocations();
    list.record({ issuer: idp.url, sid: 'session-1' });
    const token = await idp.token({ sub: 'user-1', sid: 'session-1' }, { nowSec: nowSec() - 10 });
    const failure = await service.tokens.verify(token).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(Unauthenticated);
    // The log line says why: not a bad signature or an expiry, a logout.
    expect(failure).toMatchObject({ code: 'invalid_token', detail: 'token issued before a logout of its session or subject' });
    expect(service.tokens.size).toBe(0);
    // A token of a new login (issued after the logout) passes.
    const fresh = await idp.token({ sub: 'user-1', sid: 'session-1' }, { nowSec: nowSec() + 5 });
    await expect(service.tokens.verify(fresh)).resolves.toMatchObject({ subject: 'user-1' });
  });
});

describe('forget', () => {
  it('drops the identities a logout names, returns their hashes, and keeps the others', async () => {
    const alice = await service.tokens.verify(await idp.token({ sub: 'alice' }));
    const bob = await service.tokens.verify(await idp.token({ sub: 'bob' }));
    const seen: string[] = [];
    const forgotten = service.tokens.forget((token) => {
      seen.push(token.sub);
      return token.sub === 'alice';
    });
    expect(seen.sort()).toEqual(['alice', 'bob']);
    expect([...forgotten]).toEqual([alice.tokenHash]);
    expect(service.tokens.cached(alice.tokenHash)).toBeUndefined();
    expect(service.tokens.cached(bob.tokenHash)).toMatchObject({ subject: 'bob' });
    expect(service.tokens.size).toBe(1);
  });

  it('hands the logout the identity fields it is checked against (issuer, subject, session, issued at)', async () => {
    const iat = nowSec() - 3;
    await service.tokens.verify(await idp.token({ sub: 'carol', sid: 'sess-9' }, { nowSec: iat }));
    const seen: unknown[] = [];
    service.tokens.forget((token) => {
      seen.push(token);
      return false;
    });
    expect(seen).toEqual([{ iss: idp.url, sub: 'carol', sid: 'sess-9', issuedAtMs: iat * 1000 }]);
    expect(service.tokens.size).toBe(1);
  });
});
