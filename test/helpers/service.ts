import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import request from 'supertest';
import { createService, type Service } from '../../src/app.js';
import type { Clock } from '../../src/clock.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { IssuerKinds } from '../../src/idp/kinds/index.js';
import { createLogger } from '../../src/log.js';
import type { FakeIdp } from './fake-idp.js';

/** Captures every log line the service writes, for assertions (and secret scans). */
export class LogCapture extends Writable {
  lines: string[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.lines.push(
      ...chunk
        .toString('utf8')
        .split('\n')
        .filter((line) => line !== ''),
    );
    done();
  }
  get records(): Record<string, unknown>[] {
    return this.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  }
}

/** Env for tests that are not about the MLflow preset. */
export const SMALL_ROUTES = {
  AUTHZ_ROUTES_PRESET: 'none',
  AUTHZ_ROUTES_FILE: fileURLToPath(new URL('../fixtures/routes-small.yaml', import.meta.url)),
};

export function testConfig(idp: FakeIdp, env: Record<string, string> = {}): Config {
  return loadConfig({
    AUTHZ_ISSUER_URL: idp.url,
    AUTHZ_CLIENT_ID: 'nginx-authz',
    AUTHZ_CLIENT_SECRET: 'test-secret-do-not-log',
    ...env,
  });
}

/** A service against the fake IdP (and any other issuers its config lists), discovery done, logs captured. */
export async function startService(
  idp: FakeIdp,
  options: { env?: Record<string, string>; clock?: Clock; issuerKinds?: IssuerKinds } = {},
): Promise<Service & { logs: LogCapture; config: Config }> {
  const config = testConfig(idp, options.env);
  const logs = new LogCapture();
  const service = createService(config, createLogger('debug', logs), {
    defaultMetrics: false,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.issuerKinds ? { issuerKinds: options.issuerKinds } : {}),
  });
  await service.issuers.start();
  return { ...service, logs, config };
}

/** NGINX's decision subrequest for an MLflow read (experiments/search) to a service, with a cookie, a bearer token or other headers. */
export function authRead(service: Pick<Service, 'handler'>, headers: Record<string, string>) {
  const call = request(service.handler)
    .get('/auth')
    .set('X-Original-Method', 'GET')
    .set('X-Original-URI', '/ajax-api/2.0/mlflow/experiments/search');
  for (const [name, value] of Object.entries(headers)) call.set(name, value);
  return call;
}
