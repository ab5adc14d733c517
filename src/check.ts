import { createService } from './app.js';
import { ConfigError, loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { describe, StartupFailure } from './idp/diagnose.js';
import { createLogger } from './log.js';
import { RouteTableError } from './routes/table.js';

/** Where `--check` writes its report: stdout in the CLI, a buffer in tests. */
export type Print = (line: string) => void;

/** The request resolved when none is given: one the MLflow table always maps. */
const SAMPLE = { method: 'GET', path: '/api/2.0/mlflow/experiments/get' };

/**
 * `node dist/main.js check [METHOD PATH]` (`npm start -- --check`): everything the service
 * does at start, once and without listening, reported step by step so an operator can
 * validate a deployment before pointing NGINX at it: the configuration; every issuer's
 * discovery and signing keys; the client secrets it will use (the PAT when one is needed);
 * the route tables, and which resource and scope a sample request needs.
 * @returns the exit status: 0 when every step passed, 1 otherwise
 */
export async function runCheck(args: readonly string[], env: NodeJS.ProcessEnv, print: Print): Promise<number> {
  let failures = 0;
  const ok = (step: string, text: string): void => print(`ok    ${step}: ${text}`);
  const fail = (step: string, text: string): void => {
    failures++;
    print(`FAIL  ${step}: ${text}`);
  };

  let config: Config;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) fail('config', problem);
    return summary(failures, print);
  }
  ok(
    'config',
    `${env.AUTHZ_CONFIG ? `file ${env.AUTHZ_CONFIG} and ` : ''}AUTHZ_* variables; decision mode ${config.decision.mode}; login ${onOff(config.login.enabled)}; basic ${onOff(config.basic.enabled)}; listens on ${config.server.host}:${config.server.port} (not checked)`,
  );

  let service: ReturnType<typeof createService>;
  try {
    service = createService(config, createLogger('silent'), { defaultMetrics: false });
  } catch (error) {
    if (!(error instanceof RouteTableError)) throw error;
    fail('routes', error.message);
    return summary(failures, print);
  }

  for (const issuer of service.issuers.all) {
    const step = `issuer ${issuer.settings.id} (${issuer.settings.mode})`;
    try {
      await issuer.provider.discoverOnce();
      const endpoints = issuer.provider.endpoints!;
      ok(
        step,
        `${endpoints.issuer}: token endpoint ${endpoints.tokenEndpoint}; introspection ${endpoints.introspectionEndpoint ?? 'not published'}`,
      );
      const keys = issuer.provider.keyIds;
      ok(`${step} keys`, `${keys.length} signing key(s) from ${endpoints.jwksUri}: ${keys.join(', ')}`);
      if (issuer.settings.policy !== undefined) ok(`${step} policy`, `${issuer.settings.policy.size} rule(s)`);
    } catch (error) {
      fail(step, error instanceof StartupFailure ? `${error.step}: ${describe(error.diagnosis)}` : String(error));
    }
  }

  for (const check of service.credentials.checks) {
    if (!check.issuer.provider.ready) {
      fail(check.name, 'not checked: its issuer was not discovered');
      continue;
    }
    try {
      ok(check.name, await check.run());
    } catch (error) {
      fail(check.name, error instanceof StartupFailure ? describe(error.diagnosis) : String(error));
    }
  }
  if (service.credentials.checks.length === 0) ok('credentials', 'no client secret is used by this configuration (nothing to check)');

  const [method = SAMPLE.method, path = `${config.routes.prefix}${SAMPLE.path}`] = args;
  const outcome = service.matchers.get('mlflow')?.match(method.toUpperCase(), path);
  if (outcome === undefined) fail('routes', 'no MLflow route table');
  else if (outcome.kind === 'matched') {
    const { match } = outcome;
    const needs = match.public
      ? 'public (no credentials needed)'
      : match.authenticated
        ? 'any authenticated caller'
        : `${match.resource}#${match.scope ?? '?'}`;
    ok(
      'routes',
      `${method.toUpperCase()} ${path} needs ${needs} (table entry ${match.pattern}); S3 table ${service.matchers.has('minio') ? 'loaded' : 'off'}`,
    );
  } else {
    ok(
      'routes',
      `${method.toUpperCase()} ${path} is not mapped: denied (${outcome.kind === 'no_method' ? `entry ${outcome.pattern} does not list ${method.toUpperCase()}` : 'no table entry'})`,
    );
  }
  service.stop();
  return summary(failures, print);
}

function summary(failures: number, print: Print): number {
  print(failures === 0 ? 'check passed: the service can start with this configuration' : `check failed: ${failures} problem(s) above`);
  return failures === 0 ? 0 : 1;
}

function onOff(value: boolean): string {
  return value ? 'on' : 'off';
}
