/**
 * Steps 1 and 2a of /auth (src/auth/original-request.ts) called directly, found unguarded by their
 * own tests in mutation round 5 (docs/mutation.md): the S3 copy source a request carries, a request
 * object without a socket, and which route table the decision path names (never a header).
 */
import type { IncomingMessage } from 'node:http';
import { type DecisionState, matchRoute, newDecisionState, readOriginalRequest, selectMatcher } from '../../src/auth/original-request.js';
import { UnknownRouteTable } from '../../src/errors.js';
import { TrustedProxies } from '../../src/request/trusted-proxies.js';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { SMALL_ROUTES } from '../helpers/service.js';
import { type TestService, testService } from '../helpers/test-service.js';

let service: TestService;
let idp: FakeIdp;
beforeAll(async () => {
  ({ idp, service } = await testService({ env: SMALL_ROUTES }));
});

const state = (): DecisionState => newDecisionState(0, undefined);
/** A bare request object, as a test or a framework may hand over: headers and a URL, no socket. */
const bare = (headers: Record<string, string | string[]>, url = '/auth') => ({ headers, url }) as unknown as IncomingMessage;
const contract = { enabled: false, proxies: new TrustedProxies([]) };

describe('readOriginalRequest', () => {
  const read = (headers: Record<string, string | string[]>) => {
    const s = state();
    readOriginalRequest(bare({ 'x-original-method': 'PUT', 'x-original-uri': '/dest/k', ...headers }), service.config, contract, s);
    return s;
  };

  it('works on a request without a socket (no sender address: no proxy is trusted)', () => {
    const s = read({});
    expect([s.method, s.uri?.path, s.original?.contract]).toEqual(['PUT', '/dest/k', 'nginx']);
  });

  it('keeps X-Amz-Copy-Source as sent, and nothing when it is absent or repeated', () => {
    expect(read({ 'x-amz-copy-source': '/src-bucket/a.bin' }).copySource).toBe('/src-bucket/a.bin');
    expect(read({}).copySource).toBeUndefined();
    expect(read({ 'x-amz-copy-source': ['/a/b', '/c/d'] }).copySource).toBeUndefined();
  });
});

describe('selectMatcher: the route table comes from the decision path NGINX proxies to', () => {
  const mlflow = () => service.matchers.get('mlflow');
  const minio = () => service.matchers.get('minio');

  it('/auth is MLflow’s table, /auth/minio the S3 front’s, with or without a query', () => {
    expect(minio()).toBeDefined();
    expect(minio()).not.toBe(mlflow());
    expect(selectMatcher(bare({}, '/auth'), service.matchers)).toBe(mlflow());
    expect(selectMatcher(bare({}, '/auth?x=1'), service.matchers)).toBe(mlflow());
    expect(selectMatcher(bare({}, '/auth/minio'), service.matchers)).toBe(minio());
    expect(selectMatcher(bare({}, '/auth/minio?x=/auth'), service.matchers)).toBe(minio());
  });

  it.each(['/auth/', '/auth/nosuch', '/authminio', '/other/minio', '/xyzw/minio', '/x/auth/minio', '/'])(
    'refuses %s: no configured table (403 unknown_service)',
    (url) => {
      expect(() => selectMatcher(bare({}, url), service.matchers)).toThrow(UnknownRouteTable);
    },
  );

  it('refuses a subrequest still carrying the retired X-Authz-Service header, whatever it names', () => {
    for (const url of ['/auth', '/auth/minio'])
      expect(() => selectMatcher(bare({ 'x-authz-service': 'minio' }, url), service.matchers)).toThrow(UnknownRouteTable);
  });

  it('through the handler: an S3 request on /auth/minio is decided on the MinIO table', async () => {
    idp.umaCalls = [];
    const { default: request } = await import('supertest');
    const res = await request(service.handler)
      .get('/auth/minio')
      .set('X-Original-Method', 'GET')
      .set('X-Original-URI', '/dest/k')
      .set('Authorization', `Bearer ${await idp.token({ sub: 'minio-reader' })}`);
    expect(res.status).toBe(200);
    expect(idp.umaCalls.map((c) => c.form.get('permission'))).toEqual(['bucket:dest#read']);
  });
});

describe('matchRoute: which resource and scope, default deny', () => {
  const at = (method: string, uri: string, headers: Record<string, string> = {}) => {
    const s = state();
    readOriginalRequest(bare({ 'x-original-method': method, 'x-original-uri': uri, ...headers }), service.config, contract, s);
    return s;
  };
  const minio = () => service.matchers.get('minio')!;
  const mlflow = () => service.matchers.get('mlflow')!;
  /** A stand-in for routes.fromKeycloak: every path it is asked about becomes a pending Keycloak route. */
  const remote = () => {
    const asked: string[] = [];
    const double = {
      pending(method: string, path: string) {
        asked.push(`${method} ${path}`);
        return { resource: 'pending', family: 'pending', scope: 'read', public: false, remote: true };
      },
    };
    return { double: double as unknown as Parameters<typeof matchRoute>[2], asked };
  };
  const thrown = (run: () => unknown) => {
    try {
      run();
    } catch (error) {
      return error as { status?: number; code?: string };
    }
    return undefined;
  };

  it('a path the table maps is its route, also with routes.fromKeycloak; an unmapped one goes to Keycloak then', () => {
    const keycloak = remote();
    const s = at('GET', '/api/2.0/mlflow/experiments/get');
    expect(matchRoute(mlflow(), s, keycloak.double)).toMatchObject({ resource: 'experiments', scope: 'read' });
    expect(keycloak.asked).toEqual([]);
    const unmapped = at('GET', '/reports/q4');
    const pending = matchRoute(mlflow(), unmapped, keycloak.double);
    expect(pending).toMatchObject({ resource: 'pending', remote: true });
    expect(unmapped.route).toBe(pending);
    expect(keycloak.asked).toEqual(['GET /reports/q4']);
  });

  it('refuses an unmapped path (route_not_mapped) and an unmapped method (method_not_mapped), both 403', () => {
    expect(thrown(() => matchRoute(mlflow(), at('GET', '/reports/q4'), undefined))).toMatchObject({
      status: 403,
      code: 'route_not_mapped',
    });
    expect(thrown(() => matchRoute(mlflow(), at('DELETE', '/api/2.0/mlflow/experiments/get'), undefined))).toMatchObject({
      status: 403,
      code: 'method_not_mapped',
    });
  });

  it('adds the copy source as a second permission only on a copy route that carries it', () => {
    const copy = at('PUT', '/dest/k', { 'x-amz-copy-source': '/src-bucket/a.bin' });
    expect(matchRoute(minio(), copy, undefined)).toMatchObject({ resource: 'bucket:dest', scope: 'write' });
    expect(copy.next).toMatchObject({ resource: 'bucket:src-bucket', scope: 'read' });
    const put = at('PUT', '/dest/k');
    matchRoute(minio(), put, undefined);
    expect(put.next).toBeUndefined();
    // A route that takes no copy (ListObjects, `/{bucket}`) ignores the header.
    const read = at('GET', '/dest', { 'x-amz-copy-source': '/src-bucket/a.bin' });
    expect(matchRoute(minio(), read, undefined)).toMatchObject({ resource: 'bucket:dest', scope: 'read' });
    expect(read.next).toBeUndefined();
  });
});
