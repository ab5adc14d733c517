/**
 * Steps 1 and 2a of /auth (src/auth/original-request.ts) called directly, found unguarded by their
 * own tests in mutation round 5 (docs/mutation.md): the S3 copy source a request carries, a request
 * object without a socket, and which route table the decision path names (never a header).
 */
import type { IncomingMessage } from 'node:http';
import { type DecisionState, readOriginalRequest, selectMatcher } from '../../src/auth/original-request.js';
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

const state = (): DecisionState => ({
  startedAt: 0,
  original: undefined,
  method: undefined,
  uri: undefined,
  route: undefined,
  identity: undefined,
  source: 'none',
  copySource: undefined,
  next: undefined,
  token: undefined,
  credential: 'none',
  renewed: false,
  decidedUntilMs: undefined,
  cacheKey: undefined,
});
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
