/**
 * What the e2e tests know about the running stack: `.stack/env` (written by
 * scripts/stack/up.sh), tokens from Keycloak's real token endpoint, and requests through NGINX.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function readEnv(): Record<string, string> {
  const text = readFileSync(`${process.env.STACK_DIR ?? `${ROOT}/.stack`}/env`, 'utf8');
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (match) env[match[1]!] = match[2]!.replace(/^'(.*)'$/, '$1');
  }
  return env;
}

export const stack = readEnv();

export type DemoUser = 'alice' | 'bob' | 'carol' | 'dave';
/** Development-only passwords from keycloak/mlflow-realm.json. */
export const password = (user: DemoUser): string => `${user}${stack.DEMO_PASSWORD_SUFFIX ?? '-dev-password'}`;

const tokens = new Map<DemoUser, { token: string; until: number }>();

/** What Keycloak's token endpoint answers a grant. */
export interface Grant {
  access_token: string;
  refresh_token?: string;
  expires_in?: number;
}

/** The password grant on `clientId` (default: the CLI client): each call opens a new Keycloak session of `user`. */
export async function passwordGrant(user: DemoUser, clientId = stack.MLFLOW_CLI_CLIENT_ID ?? 'mlflow-cli'): Promise<Grant> {
  const response = await fetch(stack.KC_TOKEN_URL!, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'password', client_id: clientId, username: user, password: password(user), scope: 'openid' }),
  });
  const body = (await response.json()) as Partial<Grant> & { error?: string };
  if (!response.ok || body.access_token === undefined)
    throw new Error(`token for ${user} on ${clientId}: ${response.status} ${body.error}`);
  return body as Grant;
}

/** A fresh access token of `user` in a session of its own, never the shared cache: for tests that sign it out. */
export async function freshToken(user: DemoUser, clientId?: string): Promise<string> {
  return (await passwordGrant(user, clientId)).access_token;
}

/** An access token from Keycloak's real token endpoint (password grant on the test client), shared while it lives. */
export async function tokenFor(user: DemoUser): Promise<string> {
  const cached = tokens.get(user);
  if (cached && cached.until > Date.now()) return cached.token;
  const grant = await passwordGrant(user);
  tokens.set(user, { token: grant.access_token, until: Date.now() + ((grant.expires_in ?? 60) - 30) * 1000 });
  return grant.access_token;
}

/** A request to MLflow through NGINX (the only way in). */
export async function viaNginx(
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  return fetch(`${stack.MLFLOW_URL}${path}`, { method, headers, body, redirect: 'manual' });
}

/** What a child process printed and how it ended. */
export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the stack's Python (the MLflow venv: mlflow, boto3) with only the given environment on
 * top of PATH/HOME, so nothing from the caller's shell (MLFLOW_TRACKING_USERNAME, proxies,
 * AWS_*) changes what is tested.
 */
export async function runPython(args: string[], env: Record<string, string>, timeoutMs = 150_000): Promise<ProcessResult> {
  const { spawn } = await import('node:child_process');
  const child = spawn(stack.STACK_PYTHON!, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', LANG: 'C.UTF-8', PYTHONUNBUFFERED: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: timeoutMs,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  return { code, stdout, stderr };
}

/** The claims of a JWT, unverified (the tests compare them with what the service passed on). */
export function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** A name no earlier test run used, for experiments, objects and log markers. */
export const uniqueName = (prefix: string): string => `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
