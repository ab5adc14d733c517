/**
 * A second NGINX in front of the stack's MLflow and MinIO, from the same template and the same
 * script as the stack's own (scripts/stack/nginx.sh, run with a STACK_DIR of its own whose
 * ports file names the stack's MLflow and MinIO and the test's nginx-authz port). Whatever
 * nginx-authz listens on that port decides for it: tests swap the service's configuration
 * behind an unchanged NGINX.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { ROOT, stack } from './stack.js';

const run = promisify(execFile);

export interface Front {
  /** The MLflow front: http://127.0.0.1:<port>. */
  url: string;
  /** The rendered nginx.conf: the same bytes whatever nginx-authz runs behind it. */
  conf: string;
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
    async stop() {
      await run('bash', [`${ROOT}/scripts/stack/nginx.sh`, 'stop'], { env, cwd: ROOT });
    },
  };
}
