import request from 'supertest';
import { copySourcePath, copySourceRoute } from '../../src/routes/copy-source.js';
import { RouteMatcher } from '../../src/routes/match.js';
import { parseRouteTable, readPreset } from '../../src/routes/table.js';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { SMALL_ROUTES } from '../helpers/service.js';
import { type TestService, testService } from '../helpers/test-service.js';

describe('copySourcePath (x-amz-copy-source as MinIO reads it)', () => {
  it.each([
    ['/src-bucket/key.bin', '/src-bucket/key.bin'],
    ['src-bucket/key.bin', '/src-bucket/key.bin'], // the leading slash is optional
    ['/src-bucket/dir/a%20b.bin?versionId=3f2a', '/src-bucket/dir/a b.bin'],
    ['%2Fsrc-bucket%2Fdir%2Fkey', '/src-bucket/dir/key'], // fully encoded, as some SDKs send it
    ['/src%2Dbucket/k', '/src-bucket/k'], // the bucket is decoded before it is read
    ['/a.b-c/k#fragment', '/a.b-c/k'],
    ['/src-bucket/k+plus', '/src-bucket/k+plus'], // "+" is not a space in a path
    ['/src-bucket//k', '/src-bucket//k'],
  ])('%s → %s', (raw, expected) => {
    expect(copySourcePath(raw)).toBe(expected);
  });

  it.each([
    '',
    '/',
    '/src-bucket',
    '/src-bucket/',
    '//evil/src-bucket/k', // Go reads "//evil" as an authority: the bucket would differ
    '///src-bucket/k',
    '/src-bucket/k%zz', // a bad escape: Go would fall back to the raw string
    '/src-bucket/%FF', // not UTF-8
    '/Src-Bucket/k', // not a bucket name
    'bucket:x/k', // a scheme to Go
    '/ab/k', // too short for a bucket name
    '/src-bucket/a/../b',
    '/src-bucket/./b',
    '/src-bucket/a%2F..%2Fb',
    '/src-bucket/k\u0001',
    '/src-bucket/k%0A',
    '/src bucket/k',
    '/src-bucket/caf\u00e9',
    `/src-bucket/${'k'.repeat(5000)}`,
    '/src-bucket/\u00e9x', // non-ASCII anywhere, not only at the end
    '/src-bucket/a b', // a blank in the key (raw, not encoded)
    `/src-bucket/${'k'.repeat(4096 - '/src-bucket/'.length)}x`, // one over the length bound
  ])('refuses %p', (raw) => {
    expect(copySourcePath(raw)).toBeUndefined();
  });
});

describe('copySourcePath length bound', () => {
  it('takes a copy source of exactly 4096 characters', () => {
    const raw = `/src-bucket/${'k'.repeat(4096 - '/src-bucket/'.length)}`;
    expect(raw).toHaveLength(4096);
    expect(copySourcePath(raw)).toBe(raw);
  });
});

describe('copySourceRoute: what reading the source needs in the same table', () => {
  const table = `
paths:
  - path: /open/*
    enforcement-mode: DISABLED
    methods: [{ method: GET, scopes: [] }]
  - path: /signed-in/*
    enforcement-mode: AUTHENTICATED
    methods: [{ method: GET, scopes: [] }]
  - path: /{bucket}/*
    name: "bucket:{bucket}"
    s3-copy-source: true
    methods: [{ method: PUT, scopes: [write] }]
`;
  const matcher = new RouteMatcher(parseRouteTable(table, 'test'));

  it('nothing more when the source is public or needs only a signed-in caller', () => {
    expect(copySourceRoute(matcher, '/open/k')).toBeUndefined();
    expect(copySourceRoute(matcher, '/signed-in/k')).toBeUndefined();
  });

  it('refuses (403, route_not_mapped) a source no GET route maps: it could not be read at all', () => {
    expect(() => copySourceRoute(matcher, '/src-bucket/k')).toThrow(expect.objectContaining({ status: 403, code: 'route_not_mapped' }));
  });
});

describe('copySourceRoute with the MinIO preset', () => {
  const matcher = new RouteMatcher(parseRouteTable(readPreset('minio'), 'minio'));

  it('needs read on the source bucket', () => {
    expect(copySourceRoute(matcher, '/other/a/b?versionId=1')).toMatchObject({ resource: 'bucket:other', scope: 'read' });
  });

  it('refuses a malformed copy source with 403', () => {
    expect(() => copySourceRoute(matcher, '//evil/other/a')).toThrow(expect.objectContaining({ status: 403, code: 'bad_request_uri' }));
  });

  it('marks object PUTs, and only them, for the copy-source check', () => {
    const put = matcher.match('PUT', '/mlflow/k');
    expect(put.kind === 'matched' && put.match.copySource).toBe(true);
    const list = matcher.match('GET', '/mlflow');
    expect(list.kind === 'matched' && list.match.copySource).toBeUndefined();
  });
});

describe('/auth decides the copy source of an S3 copy as well as its destination', () => {
  let idp: FakeIdp;
  let service: TestService;
  beforeAll(async () => {
    ({ idp, service } = await testService({ env: SMALL_ROUTES }));
  });
  beforeEach(() => {
    idp.umaCalls = [];
    // Write on bucket "dest", read on "dest" only: "secret" is refused.
    idp.uma = (call) =>
      ['bucket:dest#write', 'bucket:dest#read'].includes(call.form.get('permission')!)
        ? { status: 200, body: { result: true } }
        : { status: 403, body: { error: 'access_denied', error_description: 'not_authorized' } };
  });
  const copy = async (source: string | undefined, sub: string) => {
    const req = request(service.handler)
      .get('/auth/minio')
      .set('X-Original-Method', 'PUT')
      .set('X-Original-URI', '/dest/copied.bin')
      .set('Authorization', `Bearer ${await idp.token({ sub })}`);
    return source === undefined ? req : req.set('X-Amz-Copy-Source', source);
  };
  const permissions = () => idp.umaCalls.map((c) => c.form.get('permission'));

  it('refuses a copy from a bucket the caller may not read, after allowing its destination', async () => {
    expect((await copy('/secret/data.bin', 'copier-1')).status).toBe(403);
    expect(permissions()).toEqual(['bucket:dest#write', 'bucket:secret#read']);
  });

  it('refuses the encoded and versioned spellings of the same source', async () => {
    for (const source of ['%2Fsecret%2Fdata.bin', 'secret/data.bin?versionId=null', '/secre%74/data.bin'])
      expect((await copy(source, source)).status).toBe(403);
    expect(permissions().filter((p) => p === 'bucket:secret#read')).toHaveLength(3);
  });

  it('allows a copy within buckets the caller may write and read', async () => {
    expect((await copy('/dest/original.bin?versionId=7', 'copier-2')).status).toBe(200);
    expect(permissions()).toEqual(['bucket:dest#write', 'bucket:dest#read']);
  });

  it('refuses a malformed copy source without asking the IdP', async () => {
    for (const source of ['//evil/dest/x', '/dest', '/dest/k%zz', '']) expect((await copy(source, `bad ${source}`)).status).toBe(403);
    expect(idp.umaCalls).toHaveLength(0);
  });

  it('decides UploadPartCopy (a PUT with ?partNumber&uploadId) the same way', async () => {
    const part = request(service.handler)
      .get('/auth/minio')
      .set('X-Original-Method', 'PUT')
      .set('X-Original-URI', '/dest/big.bin?partNumber=2&uploadId=abc')
      .set('Authorization', `Bearer ${await idp.token({ sub: 'copier-4' })}`)
      .set('X-Amz-Copy-Source', '/secret/big.bin');
    expect((await part).status).toBe(403);
    expect(permissions()).toEqual(['bucket:dest#write', 'bucket:secret#read']);
  });

  it('decides a plain PUT on its destination alone', async () => {
    expect((await copy(undefined, 'copier-3')).status).toBe(200);
    expect(permissions()).toEqual(['bucket:dest#write']);
  });
});
