import request from 'supertest';
import { authenticationWays, REASON_MAX_BYTES, reasonSafe, refusalReason, type RefusalContext } from '../../src/auth/reason.js';
import type { Config } from '../../src/config/schema.js';
import {
  BadCredentials,
  CrossOriginRequest,
  Forbidden,
  IdpUnavailable,
  PermissionTicketChallenge,
  RejectedUri,
  Unauthenticated,
  UnmappedRoute,
} from '../../src/errors.js';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { type TestService, testService } from '../helpers/test-service.js';

/** What NGINX does with the reason: paste it, unescaped, into a JSON string literal. */
const nginxBody = (reason: string): unknown => JSON.parse(`{"error_code":"PERMISSION_DENIED","message":"${reason}"}\n`);

const CAROL: RefusalContext = { method: 'POST', resource: 'experiments', scope: 'write', user: 'carol' };
const WAYS = 'send an access token';

const settings = (basic: boolean, login: boolean, publicUrl?: string): Config =>
  ({ basic: { enabled: basic }, login: { enabled: login, publicUrl } }) as unknown as Config;

describe('reasonSafe', () => {
  it('leaves nothing that can break a JSON string, a header or a page', () => {
    const hostile = 'a"b\\c\r\nX-Evil: 1\u0000\t<script>&\'`%zoë\u2028\u{1F600}';
    const safe = reasonSafe(hostile, 1000);
    expect(safe).toMatch(/^[\x20-\x7e]*$/);
    expect(safe).not.toMatch(/["\\<>&'`]/);
    expect(safe).toBe('a%22b%5Cc%0D%0AX-Evil: 1%00%09%3Cscript%3E%26%27%60%25zo%C3%AB%E2%80%A8%F0%9F%98%80');
    expect(nginxBody(safe)).toEqual({ error_code: 'PERMISSION_DENIED', message: safe });
  });

  it('encodes exactly the unsafe ASCII characters, alone or among plain ones', () => {
    for (let code = 0; code < 128; code += 1) {
      const char = String.fromCharCode(code);
      const plain = code >= 0x20 && code < 0x7f && !'"\\%<>&\'`'.includes(char);
      const encoded = `%${code.toString(16).toUpperCase().padStart(2, '0')}`;
      expect([code, reasonSafe(char), reasonSafe(`ab${char}`)]).toEqual([code, plain ? char : encoded, `ab${plain ? char : encoded}`]);
    }
  });

  it('cuts at the bound without splitting an escape', () => {
    expect(reasonSafe('x'.repeat(500), 96)).toHaveLength(96);
    expect(reasonSafe('ab"', 4)).toBe('ab');
  });
});

describe('refusalReason', () => {
  it("names the missing permission and the caller's own user name on a refusal", () => {
    expect(refusalReason(new Forbidden('access_denied'), CAROL, WAYS)).toBe(
      'Permission denied: missing permission experiments#write for user carol',
    );
    expect(refusalReason(new Forbidden('access_denied'), { ...CAROL, resource: 'experiment:5', scope: 'read' }, WAYS)).toBe(
      'Permission denied: missing permission experiment:5#read for user carol',
    );
  });

  it('stays JSON-safe and bounded whatever the user name holds', () => {
    const user = `"},"error_code":"OK","x":"\\${'ü'.repeat(300)}`;
    const reason = refusalReason(new Forbidden('access_denied'), { ...CAROL, user }, WAYS)!;
    expect(reason.length).toBeLessThanOrEqual(REASON_MAX_BYTES);
    expect(reason).toMatch(/^[\x20-\x7e]*$/);
    expect(nginxBody(reason)).toEqual({ error_code: 'PERMISSION_DENIED', message: reason });
    expect(reason).toContain('for user %22},%22error_code%22:%22OK%22');
  });

  it('tells a 401 how to get in and names no user, resource or token', () => {
    const known = { ...CAROL, user: 'carol' };
    for (const error of [
      new Unauthenticated('no_credentials'),
      new Unauthenticated('invalid_token'),
      new BadCredentials(),
      new PermissionTicketChallenge('ticket-secret', 'http://as'),
    ]) {
      const reason = refusalReason(error, known, WAYS)!;
      expect(reason).toMatch(/^Authentication required: /);
      expect(reason).not.toMatch(/carol|experiments|write|ticket-secret/);
    }
    expect(refusalReason(new Unauthenticated('no_credentials'), known, WAYS)).toBe(`Authentication required: ${WAYS}`);
  });

  it('explains the refusals that happen before any identity, without naming one', () => {
    const anonymous = { method: 'GET', resource: undefined, scope: undefined, user: undefined };
    expect(refusalReason(new UnmappedRoute('route_not_mapped'), anonymous, WAYS)).toBe(
      'Permission denied: no permission is mapped for GET on this path (default deny)',
    );
    expect(refusalReason(new RejectedUri(), anonymous, WAYS)).toMatch(/^Permission denied: the request URI was rejected/);
    expect(refusalReason(new CrossOriginRequest(), anonymous, WAYS)).toMatch(
      /^Permission denied: a state-changing request from another site/,
    );
    expect(refusalReason(new Forbidden('access_denied'), anonymous, WAYS)).toBe('Permission denied');
  });

  it("keeps every refusal's text JSON-safe, printable ASCII and bounded, with hostile parts everywhere", () => {
    const hostile = { method: 'GE"T\\', resource: `r"\\${'\u0000'.repeat(200)}`, scope: 'w"rite\n', user: `u"\\${'ß'.repeat(400)}` };
    const ways = authenticationWays(settings(true, true, 'https://a.example.test/x"y'));
    const errors = [
      new Unauthenticated('no_credentials'),
      new Unauthenticated('unsupported_credentials'),
      new Unauthenticated('invalid_token'),
      new BadCredentials(),
      new PermissionTicketChallenge('t', 'http://as'),
      new Forbidden('access_denied'),
      new Forbidden('route_misconfigured'),
      new UnmappedRoute('route_not_mapped'),
      new UnmappedRoute('method_not_mapped'),
      new RejectedUri(),
      new CrossOriginRequest(),
    ];
    for (const error of errors) {
      const reason = refusalReason(error, hostile, ways)!;
      expect([error.code, reason.length <= REASON_MAX_BYTES, /^[\x20-\x7e]+$/.test(reason), /["\\]/.test(reason)]).toEqual([
        error.code,
        true,
        true,
        false,
      ]);
      expect(nginxBody(reason)).toEqual({ error_code: 'PERMISSION_DENIED', message: reason });
    }
  });

  it('gives no reason where NGINX shows no body (503)', () => {
    expect(refusalReason(new IdpUnavailable(), CAROL, WAYS)).toBeUndefined();
  });
});

describe('authenticationWays', () => {
  it('lists Bearer always, Basic and the login URL only when enabled', () => {
    expect(authenticationWays(settings(false, false))).toBe(
      'send an access token (Authorization: Bearer; MLflow client: MLFLOW_TRACKING_TOKEN)',
    );
    const all = authenticationWays(settings(true, true));
    expect(all).toContain('a user name and password (HTTP Basic; MLflow client: MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD)');
    expect(all).toMatch(/, or sign in with a browser at \/oauth2\/start$/);
    expect(authenticationWays(settings(false, true, 'https://mlflow.example.test/'))).toMatch(
      /at https:\/\/mlflow\.example\.test\/oauth2\/start$/,
    );
    expect(nginxBody(all)).toBeDefined();
  });
});

describe('/auth sends the reason in X-Authz-Reason on refusals only', () => {
  let idp: FakeIdp;
  let service: TestService;
  beforeAll(async () => {
    ({ idp, service } = await testService({ env: { AUTHZ_DECISION_TIMEOUT_MS: '300' } }));
  });

  const auth = (method: string, uri: string, token?: string) => {
    const req = request(service.handler).get('/auth').set('X-Original-Method', method).set('X-Original-URI', uri);
    return token === undefined ? req : req.set('Authorization', `Bearer ${token}`);
  };

  it('names the permission and the user on a 403, never the token', async () => {
    idp.uma = () => ({ status: 403, body: { error: 'access_denied' } });
    const token = await idp.token({ sub: 'u-7', preferred_username: 'carol' });
    const res = await auth('POST', '/api/2.0/mlflow/experiments/create', token);
    expect(res.status).toBe(403);
    expect(res.headers['x-authz-reason']).toBe('Permission denied: missing permission experiments#write for user carol');
    expect(res.headers['x-authz-reason']).not.toContain(token.slice(0, 16));
  });

  it('lists the accepted ways on a 401 and names nothing else', async () => {
    const res = await auth('POST', '/api/2.0/mlflow/experiments/create');
    expect(res.status).toBe(401);
    expect(res.headers['x-authz-reason']).toBe(
      'Authentication required: send an access token (Authorization: Bearer; MLflow client: MLFLOW_TRACKING_TOKEN)',
    );
  });

  it('sends no reason on an allow', async () => {
    idp.uma = () => ({ status: 200, body: { result: true } });
    const res = await auth('GET', '/api/2.0/mlflow/experiments/get?experiment_id=1', await idp.token({ preferred_username: 'bob' }));
    expect(res.status).toBe(200);
    expect(res.headers['x-authz-reason']).toBeUndefined();
  });
});
