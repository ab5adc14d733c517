/**
 * MinIO's S3 API through NGINX's S3 front (path-style `/<bucket>/<key>`): SigV4-signed requests
 * go straight to MinIO; Bearer requests are decided by nginx-authz with the MinIO route table
 * (decision path `/auth/minio`, resource `bucket:<name>`: GET read, PUT write, DELETE delete) and
 * then reach MinIO through the bucket policy gated by NGINX's secret; requests without
 * credentials are refused by NGINX itself. See nginx/README.md, "MinIO: three ways".
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { runPython, stack, tokenFor, uniqueName, type DemoUser } from './stack.js';

const BUCKET = stack.S3_BUCKET ?? 'mlflow';

/** PutObject signed with SigV4 by boto3 (the root keys), through the S3 front's signed path. */
async function putSigned(key: string, body: Buffer): Promise<void> {
  const script = `
import os, sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=os.environ["S3_URL"], region_name="us-east-1",
                  aws_access_key_id=os.environ["MINIO_ROOT_USER"], aws_secret_access_key=os.environ["MINIO_ROOT_PASSWORD"],
                  config=Config(s3={"addressing_style": "path"}))
s3.put_object(Bucket=os.environ["BUCKET"], Key=os.environ["KEY"], Body=bytes.fromhex(os.environ["BODY_HEX"]))
`;
  const result = await runPython(['-c', script], {
    S3_URL: stack.S3_URL!,
    MINIO_ROOT_USER: stack.MINIO_ROOT_USER!,
    MINIO_ROOT_PASSWORD: stack.MINIO_ROOT_PASSWORD!,
    BUCKET,
    KEY: key,
    BODY_HEX: body.toString('hex'),
  });
  if (result.code !== 0) throw new Error(`SigV4 put_object ${key} failed (${result.code}):\n${result.stderr.slice(-3000)}`);
}

/** An S3 request through NGINX with `Authorization: Bearer <token>` (or none). */
async function s3(
  method: string,
  key: string,
  authorization?: string,
  body?: Buffer,
): Promise<{ status: number; body: Buffer; challenge: string | null }> {
  const response = await fetch(`${stack.S3_URL}/${BUCKET}/${key}`, {
    method,
    headers: authorization === undefined ? {} : { authorization },
    body,
  });
  return { status: response.status, body: Buffer.from(await response.arrayBuffer()), challenge: response.headers.get('www-authenticate') };
}

const bearer = async (user: DemoUser): Promise<string> => `Bearer ${await tokenFor(user)}`;

describe("MinIO through NGINX's S3 front with Keycloak tokens", () => {
  const prefix = uniqueName('e2e-minio');
  const key = `${prefix}/signed.bin`;
  const content = randomBytes(4096);

  beforeAll(async () => {
    await putSigned(key, content);
  }, 60_000);

  afterAll(async () => {
    for (const k of [key, `${prefix}/by-bob.bin`, `${prefix}/by-carol.bin`]) await s3('DELETE', k, await bearer('alice'));
  });

  it('lets a viewer read an object with a Bearer token', async () => {
    expect(await s3('GET', key, await bearer('carol'))).toMatchObject({ status: 200, body: content });
  });

  it('refuses a user without a role (403)', async () => {
    expect((await s3('GET', key, await bearer('dave'))).status).toBe(403);
  });

  it("refuses a viewer's PUT (403), over an existing object or a new one", async () => {
    const carol = await bearer('carol');
    expect((await s3('PUT', key, carol, Buffer.from('overwritten by carol'))).status).toBe(403);
    expect((await s3('PUT', `${prefix}/by-carol.bin`, carol, Buffer.from('new from carol'))).status).toBe(403);
    expect(await s3('GET', key, carol)).toMatchObject({ status: 200, body: content });
    expect((await s3('GET', `${prefix}/by-carol.bin`, carol)).status).toBe(404);
  });

  it("stores an editor's PUT", async () => {
    const written = randomBytes(2048);
    expect((await s3('PUT', `${prefix}/by-bob.bin`, await bearer('bob'), written)).status).toBe(200);
    expect(await s3('GET', `${prefix}/by-bob.bin`, await bearer('carol'))).toMatchObject({ status: 200, body: written });
  });

  it('answers 401 without credentials and for a garbage bearer', async () => {
    expect(await s3('GET', key)).toMatchObject({ status: 401, challenge: 'Bearer realm="minio"' });
    expect(await s3('GET', key, 'Bearer not.a.token')).toMatchObject({
      status: 401,
      challenge: expect.stringMatching(/^Bearer .*error="invalid_token"/),
    });
  });

  it('lets only an admin DELETE', async () => {
    expect((await s3('DELETE', key, await bearer('bob'))).status).toBe(403);
    expect(await s3('GET', key, await bearer('carol'))).toMatchObject({ status: 200, body: content }); // bob's DELETE changed nothing
    expect((await s3('DELETE', key, await bearer('alice'))).status).toBe(204);
    expect((await s3('GET', key, await bearer('carol'))).status).toBe(404);
  });
});

/**
 * Root-key (SigV4) operations straight on MinIO, for setting up and for reading MinIO's own
 * state: `op` is "setup" (a second bucket with the same NGINX-gated anonymous policy as
 * bucket mlflow, and one object in it), "head" (prints the object's size, or "missing"), or for a
 * multipart upload "initiate" (prints its id), "parts" (prints the part numbers) and "abort".
 */
async function rootS3(
  op: 'setup' | 'head' | 'initiate' | 'parts' | 'abort',
  bucket: string,
  key: string,
  body = Buffer.alloc(0),
  uploadId = '',
): Promise<string> {
  const script = `
import json, os, sys, boto3
from botocore.config import Config
from botocore.exceptions import ClientError
s3 = boto3.client("s3", endpoint_url=os.environ["MINIO_URL"], region_name="us-east-1",
                  aws_access_key_id=os.environ["MINIO_ROOT_USER"], aws_secret_access_key=os.environ["MINIO_ROOT_PASSWORD"],
                  config=Config(s3={"addressing_style": "path"}))
bucket, key = os.environ["BUCKET"], os.environ["KEY"]
if os.environ["OP"] == "setup":
    try: s3.create_bucket(Bucket=bucket)
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"): raise
    policy = s3.get_bucket_policy(Bucket=os.environ["TEMPLATE"])["Policy"].replace("arn:aws:s3:::" + os.environ["TEMPLATE"], "arn:aws:s3:::" + bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    s3.put_object(Bucket=bucket, Key=key, Body=bytes.fromhex(os.environ["BODY_HEX"]))
    print("ok")
elif os.environ["OP"] == "initiate":
    print(s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"])
elif os.environ["OP"] == "parts":
    print(json.dumps([p["PartNumber"] for p in s3.list_parts(Bucket=bucket, Key=key, UploadId=os.environ["UPLOAD_ID"]).get("Parts", [])]))
elif os.environ["OP"] == "abort":
    s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=os.environ["UPLOAD_ID"]); print("ok")
else:
    try: print(s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("404", "NoSuchKey"): raise
        print("missing")
`;
  const result = await runPython(['-c', script], {
    MINIO_URL: stack.MINIO_URL!,
    MINIO_ROOT_USER: stack.MINIO_ROOT_USER!,
    MINIO_ROOT_PASSWORD: stack.MINIO_ROOT_PASSWORD!,
    OP: op,
    BUCKET: bucket,
    KEY: key,
    TEMPLATE: BUCKET,
    BODY_HEX: body.toString('hex'),
    UPLOAD_ID: uploadId,
  });
  if (result.code !== 0) throw new Error(`root ${op} ${bucket}/${key} failed (${result.code}):\n${result.stderr.slice(-3000)}`);
  return result.stdout.trim();
}

/** An empty PUT through the S3 front with its header lines exactly in the order given (fetch would merge and sort them). */
function rawPut(path: string, headers: [string, string][]): Promise<number> {
  const url = new URL(stack.S3_URL!);
  const head = [
    `PUT ${path} HTTP/1.1`,
    `Host: ${url.host}`,
    ...headers.map(([name, value]) => `${name}: ${value}`),
    'Content-Length: 0',
    'Connection: close',
    '',
    '',
  ].join('\r\n');
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = connect(Number(url.port), url.hostname, () => socket.write(head)); // no half-close: NGINX would take it for an abort
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0)));
  });
}

/**
 * CopyObject names its source in `x-amz-copy-source`; MinIO reads the source with the rights of
 * the (anonymous, NGINX-gated) request, so nginx-authz must decide the source too (issue 10,
 * A10a). Bucket "mlflow-restricted" (realm: admins only) gets the same gateway policy as
 * "mlflow", so MinIO itself would copy from it: only nginx-authz stands in the way.
 */
describe('S3 CopyObject through NGINX needs read on the source bucket', () => {
  const RESTRICTED = 'mlflow-restricted';
  const prefix = uniqueName('e2e-copy');
  const secretKey = `${prefix}/secret.bin`;
  const secret = randomBytes(1536);
  const copied: string[] = [];

  beforeAll(async () => {
    expect(await rootS3('setup', RESTRICTED, secretKey, secret)).toBe('ok');
  }, 60_000);
  afterAll(async () => {
    for (const k of copied) await s3('DELETE', k, await bearer('alice'));
  });

  const copyInto = async (user: DemoUser, destination: string, source: string) => {
    copied.push(destination);
    const response = await fetch(`${stack.S3_URL}/${BUCKET}/${destination}`, {
      method: 'PUT',
      headers: { authorization: await bearer(user), 'x-amz-copy-source': source },
    });
    return response.status;
  };

  it('refuses an editor (write on mlflow, no read on mlflow-restricted) in every spelling, and nothing appears in mlflow', async () => {
    const spellings = [
      `/${RESTRICTED}/${secretKey}`,
      `${RESTRICTED}/${secretKey}`,
      `/${RESTRICTED}/${secretKey}?versionId=null`,
      encodeURIComponent(`/${RESTRICTED}/${secretKey}`),
      `/${RESTRICTED.replace('r', '%72')}/${secretKey}`,
    ];
    for (const [index, source] of spellings.entries()) {
      const destination = `${prefix}/stolen-${index}.bin`;
      expect([source, await copyInto('bob', destination, source)]).toEqual([source, 403]);
      expect(await rootS3('head', BUCKET, destination)).toBe('missing');
    }
  }, 120_000);

  it('refuses malformed copy sources (403), and a copy source hidden behind an underscore twin reaches MinIO as decided', async () => {
    for (const source of [`//evil/${RESTRICTED}/${secretKey}`, `/${RESTRICTED}`, `/${RESTRICTED}/${secretKey}%zz`]) {
      expect([source, await copyInto('bob', `${prefix}/malformed.bin`, source)]).toEqual([source, 403]);
    }
    // NGINX's $http_x_amz_copy_source also matches "x_amz_copy_source" (ignore_invalid_headers off), MinIO does not:
    // NGINX sends MinIO the value nginx-authz decided on, so this is a copy of bob's own object, never of the secret.
    const own = Buffer.from('bob owns this');
    expect((await s3('PUT', `${prefix}/own.bin`, await bearer('bob'), own)).status).toBe(200);
    copied.push(`${prefix}/own.bin`, `${prefix}/twin.bin`);
    const status = await rawPut(`/${BUCKET}/${prefix}/twin.bin`, [
      ['authorization', await bearer('bob')],
      ['x_amz_copy_source', `/${BUCKET}/${prefix}/own.bin`],
      ['x-amz-copy-source', `/${RESTRICTED}/${secretKey}`],
    ]);
    const size = await rootS3('head', BUCKET, `${prefix}/twin.bin`);
    expect(status).toBe(200);
    expect(size).toBe(String(own.length)); // bob's own object, never the secret
  }, 120_000);

  it('refuses UploadPartCopy from mlflow-restricted to an editor (no part is stored) and allows it to an admin', async () => {
    const key = `${prefix}/multipart.bin`;
    const uploadId = await rootS3('initiate', BUCKET, key); // multipart initiation is a POST: SigV4 only
    try {
      const partCopy = async (user: DemoUser, part: number) =>
        (
          await fetch(`${stack.S3_URL}/${BUCKET}/${key}?partNumber=${part}&uploadId=${encodeURIComponent(uploadId)}`, {
            method: 'PUT',
            headers: { authorization: await bearer(user), 'x-amz-copy-source': `/${RESTRICTED}/${secretKey}` },
          })
        ).status;
      expect(await partCopy('bob', 1)).toBe(403);
      expect(await rootS3('parts', BUCKET, key, undefined, uploadId)).toBe('[]');
      expect(await partCopy('alice', 2)).toBe(200);
      expect(await rootS3('parts', BUCKET, key, undefined, uploadId)).toBe('[2]');
    } finally {
      await rootS3('abort', BUCKET, key, undefined, uploadId);
    }
  }, 120_000);

  it('lets an admin (read on mlflow-restricted, write on mlflow) copy, and an editor copy within mlflow', async () => {
    expect(await copyInto('alice', `${prefix}/by-alice.bin`, `/${RESTRICTED}/${secretKey}`)).toBe(200);
    expect(await rootS3('head', BUCKET, `${prefix}/by-alice.bin`)).toBe(String(secret.length));
    expect(await copyInto('bob', `${prefix}/by-bob.bin`, `/${BUCKET}/${prefix}/by-alice.bin`)).toBe(200);
    expect(await s3('GET', `${prefix}/by-bob.bin`, await bearer('carol'))).toMatchObject({ status: 200, body: secret });
  }, 120_000);
});
