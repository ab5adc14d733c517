import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StartupFailure } from '../../src/idp/diagnose.js';
import { SMALL_ROUTES } from '../helpers/service.js';
import { fakeIdp, testService } from '../helpers/test-service.js';

/** An introspection issuer (besides the primary) whose calls go to `endpoint`, answered within `timeoutMs`. */
function introspectionIssuer(url: string, endpoint: string, timeoutMs: number): Record<string, string> {
  const file = join(mkdtempSync(join(tmpdir(), 'authz-credentials-')), 'c.yaml');
  writeFileSync(
    file,
    [
      'issuers:',
      `  - id: opaque`,
      `    url: ${url}`,
      '    mode: introspection',
      '    client: { id: rs, secret: rs-secret }',
      `    introspection: { endpoint: "${endpoint}", timeoutMs: ${timeoutMs} }`,
      '    policy: { rules: { "*#*": { anyOf: [{ claim: g, values: [v] }] } } }',
      '',
    ].join('\n'),
  );
  return { AUTHZ_CONFIG: file, ...SMALL_ROUTES };
}

describe('credentialChecks: which client secrets are checked', () => {
  it('a PAT is obtained when the protection API is needed, and the login secret is then not probed separately', async () => {
    const { service } = await testService({ env: { ...SMALL_ROUTES, AUTHZ_DECISION_MODE: 'ticket', AUTHZ_LOGIN_ENABLED: 'true' } });
    expect(service.credentials.checks.map((check) => check.name)).toEqual(['client "nginx-authz" (PAT)']);
  });

  it('the login client is probed by introspection when no PAT is needed; nothing is checked without login or introspection', async () => {
    const { idp, service } = await testService({ env: { ...SMALL_ROUTES, AUTHZ_LOGIN_ENABLED: 'true' } });
    expect(service.credentials.checks.map((check) => check.name)).toEqual(['client "nginx-authz" of issuer primary']);
    const { service: plain } = await testService({ idp, env: SMALL_ROUTES });
    expect(plain.credentials.checks).toEqual([]);
  });
});

describe('the introspection probe', () => {
  it('accepts the client when the IdP answers 200 with `active`, and sends the made-up token with the client’s Basic credentials', async () => {
    const { idp, service } = await testService({ env: { ...SMALL_ROUTES, AUTHZ_LOGIN_ENABLED: 'true' } });
    await expect(service.credentials.checks[0]!.run()).resolves.toBe('client credentials accepted (introspection)');
    const call = idp.introspectCalls.at(-1)!;
    expect(call.form.get('token')).toBe('nginx-authz-credentials-check');
    expect(call.authorization).toBe(`Basic ${Buffer.from('nginx-authz:test-secret-do-not-log').toString('base64')}`);
  });

  it('a refusal is a StartupFailure naming the status, the OAuth error and what to fix', async () => {
    const { idp, service } = await testService({ env: { ...SMALL_ROUTES, AUTHZ_LOGIN_ENABLED: 'true' } });
    idp.introspect = () => ({ status: 401, body: { error: 'invalid_client', error_description: 'Invalid client credentials' } });
    const failure = (await service.credentials.checks[0]!.run().catch((error: unknown) => error)) as StartupFailure;
    expect(failure).toBeInstanceOf(StartupFailure);
    expect(failure.diagnosis.outcome).toBe('HTTP 401 invalid_client "Invalid client credentials"');
    expect(failure.diagnosis.hint).toContain('set client.secret / AUTHZ_CLIENT_SECRET');
  });

  it('a 200 without a boolean `active` (a string, a list, a string `active`) is not taken for an accepted client', async () => {
    const { idp, service } = await testService({ env: { ...SMALL_ROUTES, AUTHZ_LOGIN_ENABLED: 'true' } });
    for (const body of ['not json', { active: 'false' }, [true]]) {
      idp.introspect = () => ({ status: 200, body });
      const failure = (await service.credentials.checks[0]!.run().catch((error: unknown) => error)) as StartupFailure;
      expect(failure).toBeInstanceOf(StartupFailure);
      expect(failure.diagnosis.outcome).toBe('HTTP 200');
    }
  });

  describe('against an endpoint that sends its headers and then nothing', () => {
    let stalling: Server;
    let endpoint: string;
    beforeAll(async () => {
      stalling = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"active":');
      });
      await new Promise<void>((resolve) => stalling.listen(0, '127.0.0.1', resolve));
      endpoint = `http://127.0.0.1:${(stalling.address() as AddressInfo).port}/introspect`;
    });
    afterAll(async () => {
      stalling.closeAllConnections();
      await new Promise((resolve) => stalling.close(resolve));
    });

    it('the body counts against the call’s timeout: no answer in time, not a refused client', async () => {
      const other = await fakeIdp();
      const { service } = await testService({ env: introspectionIssuer(other.url, endpoint, 300) });
      const check = service.credentials.checks.find((each) => each.issuer.settings.id === 'opaque')!;
      expect(check.name).toBe('client "rs" of issuer opaque');
      const started = performance.now();
      const failure = (await check.run().catch((error: unknown) => error)) as StartupFailure;
      expect(failure).toBeInstanceOf(StartupFailure);
      expect(failure.diagnosis.outcome).toBe('no answer in time');
      expect(performance.now() - started).toBeLessThan(3_000);
    });
  });
});

describe('CredentialChecks', () => {
  it('lists a failed check among the problems, and clears it once a retry passes', async () => {
    const idp = await fakeIdp();
    const file = join(mkdtempSync(join(tmpdir(), 'authz-credentials-')), 'c.yaml');
    writeFileSync(file, `issuer: { url: ${idp.url}, discoveryRetryMs: 50 }\n`);
    const { service } = await testService({ idp, env: { ...SMALL_ROUTES, AUTHZ_CONFIG: file, AUTHZ_LOGIN_ENABLED: 'true' } });
    let refuse = true;
    idp.introspect = () => (refuse ? { status: 401, body: { error: 'invalid_client' } } : { status: 200, body: { active: false } });
    expect(service.credentials.problems).toEqual(['client "nginx-authz" of issuer primary: not checked yet']);
    const done = service.credentials.start();
    while (idp.introspectCalls.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(service.credentials.problems[0]).toMatch(/^client "nginx-authz" of issuer primary: .*HTTP 401 invalid_client/);
    refuse = false;
    await done;
    expect(service.credentials.problems).toEqual([]);
    expect(service.logs.lines.join('\n')).not.toContain('test-secret-do-not-log');
  });
});
