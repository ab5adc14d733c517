/**
 * TokenVerifier edges that the mutation run of src/tokens/verify.ts showed unguarded
 * (docs/mutation.md): the cached identity's expiry instant, a key set the IdP serves broken,
 * `sub` and `typ`, and the identity fields a logout or a policy is checked against. Written
 * against the public behaviour (`service.tokens`), so they hold wherever the issuer dispatch lives.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IdpUnavailable, Unauthenticated } from '../../src/errors.js';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { SMALL_ROUTES } from '../helpers/service.js';
import { type TestService, testService } from '../helpers/test-service.js';

const dir = mkdtempSync(join(tmpdir(), 'authz-verify-edges-'));
let idp: FakeIdp;
let service: TestService;
let now = Date.now();
const clock = () => now;

beforeEach(async () => {
  now = Date.now();
  const configFile = join(dir, `c${Math.random()}.yaml`);
  writeFileSync(configFile, 'issuer:\n  jwksCooldownMs: 200\n  url: placeholder\n');
  ({ idp, service } = await testService({ clock, env: { AUTHZ_CONFIG: configFile, ...SMALL_ROUTES } }));
});

const verify = (token: string) => service.tokens.verify(token);
const failure = (token: string): Promise<unknown> =>
  verify(token).then(
    () => undefined,
    (e: unknown) => e,
  );
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the cached identity expires with its token, to the millisecond', () => {
  it('is served until the instant before exp and not at exp', async () => {
    const expSec = Math.floor(now / 1000) + 60;
    const token = await idp.token({}, { nowSec: expSec - 60, expiresInSec: 60 });
    const { tokenHash } = await verify(token);
    now = expSec * 1000 - 1;
    expect(service.tokens.cached(tokenHash)).toMatchObject({ subject: 'user-1' });
    now = expSec * 1000;
    expect(service.tokens.cached(tokenHash)).toBeUndefined();
  });

  it('does not keep an identity whose token expires as it is verified (accepted within the skew)', async () => {
    const expSec = Math.floor(now / 1000);
    now = expSec * 1000; // exp exactly: jose accepts it (30 s skew), the cache must not keep it
    const token = await idp.token({}, { nowSec: expSec - 60, expiresInSec: 60 });
    const { tokenHash } = await verify(token);
    expect(service.tokens.size).toBe(0);
    expect(service.tokens.cached(tokenHash)).toBeUndefined();
  });
});

describe('a broken key set is the IdP failing (503), not the token (401)', () => {
  // A token signed with a key not yet published makes the verifier fetch the key set again.
  const afterRefetch = async (answer: { status: number; body?: unknown }): Promise<unknown> => {
    const token = await idp.token({}, { key: await idp.rotate(false) });
    idp.jwksAnswer = answer;
    await sleep(250); // past the 200 ms cooldown since the start-up fetch
    return failure(token);
  };

  it('answers 500', async () => {
    const error = await afterRefetch({ status: 500, body: { error: 'down' } });
    expect(error).toBeInstanceOf(IdpUnavailable);
    expect((error as IdpUnavailable).detail).toMatch(/JWKS unavailable/);
  });

  it('answers 200 with something that is not a key set', async () => {
    const error = await afterRefetch({ status: 200, body: { keys: 'none' } });
    expect(error).toBeInstanceOf(IdpUnavailable);
    expect((error as IdpUnavailable).detail).toMatch(/JWKS unavailable/);
  });
});

describe('claims the verifier requires or reads', () => {
  it('refuses a token without sub', async () => {
    const error = await failure(await idp.token({ sub: undefined }));
    expect(error).toBeInstanceOf(Unauthenticated);
    expect((error as Unauthenticated).detail).toMatch(/sub/);
  });

  it('accepts an access token without typ, and typ in any case', async () => {
    await expect(verify(await idp.token({ typ: undefined }))).resolves.toMatchObject({ subject: 'user-1' });
    await expect(verify(await idp.token({ typ: 'bearer' }))).resolves.toMatchObject({ subject: 'user-1' });
  });

  it('keeps iss, sid and iat for logouts, and no empty username', async () => {
    const iat = Math.floor(now / 1000) - 5;
    const identity = await verify(await idp.token({ sid: 'session-7', iat, preferred_username: '' }));
    expect(identity).toMatchObject({ iss: idp.url, sid: 'session-7', issuedAtMs: iat * 1000, username: undefined });
    expect((await verify(await idp.token({ sid: '' }))).sid).toBeUndefined();
  });

  it("reads an RPT's permissions, and none from a plain access token", async () => {
    const rpt = await idp.token({ authorization: { permissions: [{ rsname: 'experiments', scopes: ['read', 'write'] }] } });
    expect([...((await verify(rpt)).permissions ?? [])]).toEqual(['experiments#read', 'experiments#write']);
    expect((await verify(await idp.token())).permissions).toBeUndefined();
  });
});
