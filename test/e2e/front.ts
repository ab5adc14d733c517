/**
 * A second NGINX in front of the stack's MLflow and MinIO, from the same template and the same
 * script as the stack's own (scripts/stack/nginx.sh, run with a STACK_DIR of its own whose
 * ports file names the stack's MLflow and MinIO and the test's nginx-authz port). Whatever
 * nginx-authz listens on that port decides for it: tests swap the service's configuration
 * behind an unchanged NGINX.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { promisify } from 'node:util';
import { freePort, startOwnService, type OwnService } from './own-service.js';
import { ROOT, stack } from './stack.js';

const run = promisify(execFile);

export interface Front {
  /** The MLflow front: http://127.0.0.1:<port>. */
  url: string;
  /** The rendered nginx.conf: the same bytes whatever nginx-authz runs behind it. */
  conf: string;
  /** This NGINX's log of the requests it proxied to MLflow (log format `authz_upstream`; see effects.ts). */
  upstreamLog: string;
  stop(): Promise<void>;
}

export async function startFront(name: string, authzPort: number): Promise<Front> {
  const dir = `${process.env.STACK_DIR ?? `${ROOT}/.stack`}/fronts/${name}`;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/ports.env`, `MLFLOW_PORT=${stack.MLFLOW_PORT}\nMINIO_PORT=${stack.MINIO_PORT}\nAUTHZ_PORT=${authzPort}\n`);
  const env = { ...process.env, STACK_DIR: dir };
  await run('bash', [`${ROOT}/scripts/stack/nginx.sh`, 'start'], { env, cwd: ROOT });
  const ports = readFileSync(`${dir}/ports.env`, 'utf8');
  const port = /^NGINX_MLFLOW_PORT=(\d+)$/m.exec(ports)?.[1];
  if (port === undefined) throw new Error(`no NGINX_MLFLOW_PORT in ${dir}/ports.env`);
  return {
    url: `http://127.0.0.1:${port}`,
    conf: `${dir}/nginx/conf/nginx.conf`,
    upstreamLog: `${dir}/logs/nginx-upstream.log`,
    async stop() {
      await run('bash', [`${ROOT}/scripts/stack/nginx.sh`, 'stop'], { env, cwd: ROOT });
    },
  };
}

/**
 * A request to MLflow through `front`, with the Host of the stack's front (MLflow checks Host against
 * its --allowed-hosts; fetch cannot set Host, so node:http). `json` is undefined for a non-JSON body.
 */
export function viaFront(
  front: Front,
  method: string,
  path: string,
  options: { token?: string; body?: unknown } = {},
): Promise<{ status: number; json: Record<string, unknown> | undefined }> {
  const headers: Record<string, string> = { host: new URL(stack.MLFLOW_URL!).host };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  if (payload !== undefined) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${front.url}${path}`, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        let json: Record<string, unknown> | undefined;
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          json = undefined; // NGINX's own error pages are HTML
        }
        resolve({ status: res.statusCode ?? 0, json });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * A nginx-authz of this checkout (own-service.ts, with `env`) behind a real NGINX of its own (startFront),
 * so a test of a configuration other than the stack's also runs through NGINX to the real MLflow.
 */
export async function startFrontedService(
  name: string,
  env: Record<string, string> = {},
  options: { keycloak?: boolean } = {},
): Promise<{ service: OwnService; front: Front; stop(): Promise<void> }> {
  const port = await freePort();
  const front = await startFront(name, port); // before the service: nginx.sh keeps the port only while it is free
  let service: OwnService;
  try {
    service = await startOwnService(env, { ...options, port });
  } catch (error) {
    await front.stop();
    throw error;
  }
  return {
    service,
    front,
    stop: async () => {
      await service.stop();
      await front.stop();
    },
  };
}
