import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { base64url, exportSPKI, SignJWT } from 'jose';
import { IdpUnavailable, Unauthenticated } from '../../src/errors.js';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { SMALL_ROUTES } from '../helpers/service.js';
import { type TestService, testService } from '../helpers/test-service.js';

const dir = mkdtempSync(join(tmpdir(), 'authz-verify-'));
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
const rejected = async (token: string): Promise<string> => {
  const error = await verify(token).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Unauthenticated);
  expect((error as Unauthenticated).code).toBe('invalid_token');
  return (error as Unauthenticated).detail ?? '';
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('TokenVerifier', () => {
  it('accepts a valid access token and extracts the identity', async () => {
    const identity = await verify(await idp.token());
    expect(identity).toMatchObject({ subject: 'user-1', username: 'alice', email: 'alice@example.test', groups: ['mlflow-admins'] });
  });

  it('refuses a bad signature', async () => {
    const [header, payload] = (await idp.token()).split('.');
    const other = (await idp.token({ sub: 'someone-else' })).split('.')[2];
    expect(await rejected(`${header}.${payload}.${other}`)).toMatch(/signature/);
  });

  it('refuses alg none', async () => {
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
    const payload = (await idp.token()).split('.')[1];
    expect(await rejected(`${header}.${payload}.`)).toMatch(/ERR_JOSE_ALG_NOT_ALLOWED|ERR_JWS_INVALID/);
  });

  it('refuses HS256 signed with the public key as the secret', async () => {
    const pem = await exportSPKI(
      (await import('node:crypto')).createPublicKey({ key: idp.currentKey.publicJwk as never, format: 'jwk' }) as never,
    );
    const forged = await new SignJWT({ iss: idp.url, aud: 'nginx-authz', sub: 'admin', exp: Math.floor(now / 1000) + 300 })
      .setProtectedHeader({ alg: 'HS256', kid: idp.currentKey.kid })
      .sign(new TextEncoder().encode(pem));
    expect(await rejected(forged)).toMatch(/ERR_JOSE_ALG_NOT_ALLOWED/);
  });

  it('refuses expired and not-yet-valid tokens, beyond a 30 s skew only', async () => {
    const nowSec = Math.floor(now / 1000);
    expect(await rejected(await idp.token({}, { nowSec: nowSec - 400, expiresInSec: 60 }))).toMatch(/ERR_JWT_EXPIRED/);
    await expect(verify(await idp.token({}, { nowSec: nowSec - 80, expiresInSec: 60 }))).resolves.toBeDefined(); // 20 s late: within skew
    expect(await rejected(await idp.token({ nbf: nowSec + 120 }))).toMatch(/nbf/);
    await expect(verify(await idp.token({ nbf: nowSec + 10 }))).resolves.toBeDefined();
  });

  it('refuses a wrong issuer, a wrong audience, a missing exp and a non-access token', async () => {
    expect(await rejected(await idp.token({ iss: 'http://127.0.0.1:1/realms/evil' }))).toMatch(/iss/);
    expect(await rejected(await idp.token({ aud: 'account' }))).toMatch(/aud/);
    expect(await rejected(await idp.token({ aud: undefined }))).toMatch(/aud/);
    expect(await rejected(await idp.token({ exp: undefined }))).toMatch(/exp/);
    expect(await rejected(await idp.token({ typ: 'ID' }))).toMatch(/not an access token/);
    expect(await rejected(await idp.token({ typ: 'Refresh' }))).toMatch(/not an access token/);
  });

  it('refuses garbage', async () => {
    for (const junk of ['x', 'a.b.c', 'eyJ.eyJ.sig', `${base64url.encode('{}')}.${base64url.encode('[]')}.x`]) await rejected(junk);
  });

  it('fetches the JWKS again for an unknown kid, at most once per cooldown, and follows rotation', async () => {
    const before = idp.jwksFetches;
    const unpublished = await idp.rotate(false);
    const early = await idp.token({}, { key: unpublished });
    await sleep(250); // past the 200 ms cooldown since the start-up fetch
    for (let i = 0; i < 10; i++) await rejected(early);
    expect(idp.jwksFetches - before).toBe(1); // ten unknown-kid tokens, one refetch

    idp.publishAll(); // the IdP rotates its keys
    await sleep(250);
    await expect(verify(early)).resolves.toMatchObject({ subject: 'user-1' });
    expect(idp.jwksFetches - before).toBe(2);
  });

  it('fails closed with 503, not 401, when the keys cannot be fetched', async () => {
    const unpublished = await idp.rotate(false);
    const token = await idp.token({}, { key: unpublished });
    await idp.stop();
    await sleep(250);
    await expect(verify(token)).rejects.toBeInstanceOf(IdpUnavailable);
  });

  it('caches a verified token until its expiry, never beyond', async () => {
    const token = await idp.token({}, { expiresInSec: 120, nowSec: Math.floor(now / 1000) });
    await verify(token);
    await verify(token);
    const hits = await service.metrics.cacheRequests.get();
    expect(hits.values.find((v) => v.labels.cache === 'token' && v.labels.result === 'hit')?.value).toBe(1);
    now += 121_000 + 30_000; // past exp and skew
    expect(await rejected(token)).toMatch(/ERR_JWT_EXPIRED/);
  });
});

describe('identityBytes (the token cache is bounded by cache.tokenMaxBytes)', () => {
  it("counts an identity's strings, groups, permissions and kept claim values", async () => {
    const { identityBytes } = await import('../../src/tokens/verify.js');
    const base = { subject: 's', username: 'u', email: undefined, expiresAtMs: 0, tokenHash: 'h', permissions: undefined };
    const small = identityBytes({ ...base, groups: [] });
    const groups = identityBytes({ ...base, groups: Array.from({ length: 100 }, (_, i) => `group-${i}-${'g'.repeat(90)}`) });
    expect(groups - small).toBeGreaterThan(100 * 200);
    const claims = identityBytes({ ...base, groups: [], claims: new Map([['roles', ['r'.repeat(5_000)]]]) });
    expect(claims - small).toBeGreaterThan(10_000);
    const rpt = identityBytes({ ...base, groups: [], permissions: new Set(['runs#read', 'runs#write']) });
    expect(rpt).toBeGreaterThan(small);
  });
});
