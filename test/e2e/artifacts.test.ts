/**
 * A large artifact through NGINX and MLflow's artifact proxy (into MinIO), streamed both ways:
 * NGINX neither buffers it nor limits its size (nginx/snippets/proxy-streaming.conf, and
 * `client_max_body_size 0` in the /auth location, without which every upload over 1 MiB was a
 * 500), and nginx-authz decides on the headers alone. The body is generated and hashed on the
 * fly, never held in memory.
 */
import { createHash, randomBytes } from 'node:crypto';
import { stack, tokenFor, uniqueName, viaNginx, type DemoUser } from './stack.js';

const SIZE = 50 * 1024 * 1024;
const CHUNK = 1024 * 1024;

/** A stream of `size` random bytes and the SHA-256 of what it produced, once it is drained. */
function randomBody(size: number): { body: ReadableStream<Uint8Array>; sha256: () => string } {
  const hash = createHash('sha256');
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent === size) return controller.close();
      const chunk = randomBytes(Math.min(CHUNK, size - sent));
      hash.update(chunk);
      sent += chunk.length;
      controller.enqueue(chunk);
    },
  });
  return { body, sha256: () => hash.digest('hex') };
}

async function put(user: DemoUser, path: string, body: ReadableStream<Uint8Array> | string): Promise<Response> {
  return fetch(`${stack.MLFLOW_URL}${path}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${await tokenFor(user)}`, 'content-type': 'application/octet-stream' },
    body,
    duplex: 'half', // required by fetch for a stream body
  });
}

/** Downloads `path` as `user`, hashing the body as it arrives. */
async function download(user: DemoUser, path: string): Promise<{ status: number; bytes: number; sha256: string }> {
  const response = await viaNginx('GET', path, { token: await tokenFor(user) });
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of response.body!) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { status: response.status, bytes, sha256: hash.digest('hex') };
}

async function json<T>(response: Response): Promise<T> {
  if (!response.ok) throw new Error(`${response.url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

describe('a 50 MiB artifact through NGINX and the artifact proxy', () => {
  let runId: string;
  let artifactPath: string;
  let uploaded: string;

  beforeAll(async () => {
    const token = await tokenFor('bob');
    const { experiment_id } = await json<{ experiment_id: string }>(
      await viaNginx('POST', '/api/2.0/mlflow/experiments/create', { token, body: { name: uniqueName('e2e-artifacts') } }),
    );
    const { run } = await json<{ run: { info: { run_id: string; artifact_uri: string } } }>(
      await viaNginx('POST', '/api/2.0/mlflow/runs/create', { token, body: { experiment_id } }),
    );
    runId = run.info.run_id;
    // The proxy serves `mlflow-artifacts:/<path>` at /api/2.0/mlflow-artifacts/artifacts/<path>.
    expect(run.info.artifact_uri).toBe(`mlflow-artifacts:/${experiment_id}/${runId}/artifacts`);
    artifactPath = `/api/2.0/mlflow-artifacts/artifacts/${experiment_id}/${runId}/artifacts/big.bin`;
  });

  afterAll(async () => {
    if (artifactPath) await viaNginx('DELETE', artifactPath, { token: await tokenFor('alice') }).then((r) => r.arrayBuffer());
  });

  it('uploads streamed as an editor, and the run lists it at full size', async () => {
    const { body, sha256 } = randomBody(SIZE);
    const response = await put('bob', artifactPath, body);
    expect({ status: response.status, body: await response.text() }).toMatchObject({ status: 200 });
    uploaded = sha256();

    const listed = await json<{ files: { path: string; is_dir: boolean; file_size: number }[] }>(
      await viaNginx('GET', `/api/2.0/mlflow/artifacts/list?run_id=${runId}`, { token: await tokenFor('bob') }),
    );
    expect(listed.files).toEqual([{ path: 'big.bin', is_dir: false, file_size: SIZE }]);
  }, 120_000);

  it("refuses a viewer's overwrite with 403", async () => {
    expect(uploaded).toBeDefined();
    const response = await put('carol', artifactPath, 'not the artifact');
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({
      error_code: 'PERMISSION_DENIED',
      message: 'Permission denied: missing permission artifacts#write for user carol',
    });
    expect(await download('bob', artifactPath)).toEqual({ status: 200, bytes: SIZE, sha256: uploaded }); // the artifact is unchanged
  }, 120_000);

  it.each(['bob', 'carol'] as DemoUser[])(
    'downloads intact as %s',
    async (user) => {
      expect(uploaded).toBeDefined();
      expect(await download(user, artifactPath)).toEqual({ status: 200, bytes: SIZE, sha256: uploaded });
    },
    120_000,
  );
});
