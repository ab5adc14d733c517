/**
 * Issue 10, A1 and A7, through the stack's real NGINX (shipped snippets) in front of the real
 * MLflow, with a viewer's token from the real Keycloak. Each test asserts the effect on MLflow:
 * NGINX's upstream log (`NGINX_UPSTREAM_LOG`, one JSON line per request proxied to MLflow)
 * must not show the refused request, and the client gets NGINX's 403 JSON, never a 500.
 *
 * A1: a request header used to choose the route table; with a Keycloak resource `bucket:api`
 * (an S3 bucket named `api`) readable by carol, `X-Authz-Service: minio` turned her
 * `GET /api/2.0/mlflow/webhooks` (refused to a viewer) into `bucket:api#read` and MLflow
 * answered it. A7: `POST /gateway/proxy/x/../../../api/2.0/mlflow/runs/search` was decided as
 * runs#read after resolving the dot segments, while MLflow ran it as a gateway proxy call.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { AuthzAdmin } from './keycloak-admin.js';
import { stack, tokenFor, viaNginx } from './stack.js';

let admin: AuthzAdmin;

beforeAll(async () => {
  admin = await AuthzAdmin.open();
  const bucket = await admin.create('resource', { name: 'bucket:api', scopes: [{ name: 'read' }] });
  await admin.grant('carol', bucket, 'read', 'e2e-carol-reads-bucket-api');
}, 60_000);
afterAll(async () => {
  await admin?.cleanUp();
});

/** A request with its target sent byte for byte (fetch would resolve dot segments first). */
function raw(
  base: string,
  method: string,
  target: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; text: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method,
        path: target,
        headers: {
          ...headers,
          ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }),
        },
      },
      (res) => {
        let text = '';
        res
          .setEncoding('utf8')
          .on('data', (chunk: string) => {
            text += chunk;
          })
          .on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Lines of NGINX's upstream log (requests NGINX proxied to MLflow) whose URI contains `marker`. */
const reachedMlflow = (marker: string): string[] =>
  readFileSync(stack.NGINX_UPSTREAM_LOG!, 'utf8')
    .split('\n')
    .filter((line) => line.includes(marker));

/** NGINX's 403 page (authz-errors.conf), the only answer a refused request may get, with the service's reason. */
function expectRefusedByNginx(answer: { status: number; text: string }, message: string): void {
  expect(answer.status).toBe(403);
  expect(JSON.parse(answer.text)).toEqual({ error_code: 'PERMISSION_DENIED', message });
}
// Decided on MLflow's own table (webhooks are admin#read), whatever X-Authz-Service the client sent.
const MLFLOW_TABLE = 'Permission denied: missing permission admin#read for user carol';
const URI_REJECTED = 'Permission denied: the request URI was rejected (encoded slash, dot segment, control character or too long)';

describe('the route table is chosen by NGINX alone (A1)', () => {
  it("ignores a client's X-Authz-Service on the MLflow front: carol cannot list webhooks as bucket:api#read", async () => {
    const carol = await tokenFor('carol');
    for (const [n, header] of [
      ['minio', 'minio'],
      ['mlflow', 'mlflow'],
      ['unknown', 'no-such-table'],
    ] as const) {
      const marker = `e2e-a1-${n}-${Date.now()}`;
      const answer = await raw(stack.MLFLOW_URL!, 'GET', `/api/2.0/mlflow/webhooks?max_results=1&m=${marker}`, {
        authorization: `Bearer ${carol}`,
        'x-authz-service': header,
      });
      expectRefusedByNginx(answer, MLFLOW_TABLE); // an unknown table is a 403 too, never NGINX's 500
      expect(reachedMlflow(marker)).toEqual([]);
    }
  });

  it('still decides the S3 front on the MinIO table (decision path /auth/minio)', async () => {
    const carol = await tokenFor('carol');
    const answer = await fetch(`${stack.S3_URL}/mlflow?list-type=2&max-keys=1`, { headers: { authorization: `Bearer ${carol}` } });
    expect(answer.status).toBe(200);
    expect(await answer.text()).toContain('<ListBucketResult');
  });
});

describe('dot segments are refused, not resolved (A7)', () => {
  it('refuses a gateway proxy path that resolves to runs/search, which carol may call plainly', async () => {
    const carol = await tokenFor('carol');
    const plain = await viaNginx('POST', '/api/2.0/mlflow/runs/search', { token: carol, body: { experiment_ids: ['0'], max_results: 1 } });
    expect(plain.status).toBe(200);
    const body = JSON.stringify({ experiment_ids: ['0'], max_results: 1 });
    for (const [n, dots] of [
      ['raw', '../../..'],
      ['encoded', '%2e%2e/%2E%2E/.%2e'],
      ['double', '%252e%252e/%252e%252e/%252e%252e'],
    ] as const) {
      const marker = `e2e-a7-${n}-${Date.now()}`;
      const target = `/gateway/proxy/${marker}/${dots}/api/2.0/mlflow/runs/search`;
      expectRefusedByNginx(await raw(stack.MLFLOW_URL!, 'POST', target, { authorization: `Bearer ${carol}` }, body), URI_REJECTED);
      expect(reachedMlflow(marker)).toEqual([]);
    }
  });
});
