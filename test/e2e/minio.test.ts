/**
 * MinIO's S3 API through NGINX's S3 front (path-style `/<bucket>/<key>`): SigV4-signed requests
 * go straight to MinIO; Bearer requests are decided by nginx-authz with the MinIO route table
 * (`X-Authz-Service: minio`, resource `bucket:<name>`: GET read, PUT write, DELETE delete) and
 * then reach MinIO through the bucket policy gated by NGINX's secret; requests without
 * credentials are refused by NGINX itself. See nginx/README.md, "MinIO: three ways".
 */
import { randomBytes } from 'node:crypto';
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
    S3_URL: stack.S3_URL!, MINIO_ROOT_USER: stack.MINIO_ROOT_USER!, MINIO_ROOT_PASSWORD: stack.MINIO_ROOT_PASSWORD!,
    BUCKET, KEY: key, BODY_HEX: body.toString('hex'),
  });
  if (result.code !== 0) throw new Error(`SigV4 put_object ${key} failed (${result.code}):\n${result.stderr.slice(-3000)}`);
}

/** An S3 request through NGINX with `Authorization: Bearer <token>` (or none). */
async function s3(method: string, key: string, authorization?: string, body?: Buffer): Promise<{ status: number; body: Buffer; challenge: string | null }> {
  const response = await fetch(`${stack.S3_URL}/${BUCKET}/${key}`, {
    method,
    headers: authorization === undefined ? {} : { authorization },
    body,
  });
  return { status: response.status, body: Buffer.from(await response.arrayBuffer()), challenge: response.headers.get('www-authenticate') };
}

const bearer = async (user: DemoUser): Promise<string> => `Bearer ${await tokenFor(user)}`;

describe('MinIO through NGINX\'s S3 front with Keycloak tokens', () => {
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

  it('refuses a viewer\'s PUT (403), over an existing object or a new one', async () => {
    const carol = await bearer('carol');
    expect((await s3('PUT', key, carol, Buffer.from('overwritten by carol'))).status).toBe(403);
    expect((await s3('PUT', `${prefix}/by-carol.bin`, carol, Buffer.from('new from carol'))).status).toBe(403);
    expect(await s3('GET', key, carol)).toMatchObject({ status: 200, body: content });
    expect((await s3('GET', `${prefix}/by-carol.bin`, carol)).status).toBe(404);
  });

  it('stores an editor\'s PUT', async () => {
    const written = randomBytes(2048);
    expect((await s3('PUT', `${prefix}/by-bob.bin`, await bearer('bob'), written)).status).toBe(200);
    expect(await s3('GET', `${prefix}/by-bob.bin`, await bearer('carol'))).toMatchObject({ status: 200, body: written });
  });

  it('answers 401 without credentials and for a garbage bearer', async () => {
    expect(await s3('GET', key)).toMatchObject({ status: 401, challenge: 'Bearer realm="minio"' });
    expect(await s3('GET', key, 'Bearer not.a.token')).toMatchObject({ status: 401, challenge: expect.stringMatching(/^Bearer .*error="invalid_token"/) });
  });

  it('lets only an admin DELETE', async () => {
    expect((await s3('DELETE', key, await bearer('bob'))).status).toBe(403);
    expect(await s3('GET', key, await bearer('carol'))).toMatchObject({ status: 200, body: content }); // bob's DELETE changed nothing
    expect((await s3('DELETE', key, await bearer('alice'))).status).toBe(204);
    expect((await s3('GET', key, await bearer('carol'))).status).toBe(404);
  });
});
