/**
 * A real, non-Keycloak OpenID provider for the e2e tests (npm `oidc-provider`, see
 * provider-server.mjs beside this file), run as a child process on a free loopback port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export interface ProviderClient {
  id: string;
  secret: string;
  /** Space-separated scopes the client may get. */
  scope: string;
  groups?: string[];
  /** Become the URL-named claim `https://mlflow.example/roles`. */
  roles?: string[];
  email?: string;
}

export interface ProviderSettings {
  clients: ProviderClient[];
  /** The `aud` of its access tokens (default nginx-authz). */
  audience?: string;
  /** The resource server's client for introspection. */
  introspector?: { id: string; secret: string };
  tokenTtlSeconds?: number;
}

export interface RunningProvider {
  issuer: string;
  /** A client-credentials access token: a JWT (RFC 9068) or an opaque one (introspection only). */
  token(clientId: string, options?: { format?: 'jwt' | 'opaque'; scope?: string }): Promise<string>;
  /** RFC 7009 revocation by the client the token was issued to. */
  revoke(clientId: string, token: string): Promise<void>;
  stop(): Promise<void>;
}

const SERVER = fileURLToPath(new URL('./provider-server.mjs', import.meta.url));

export async function startProvider(settings: ProviderSettings): Promise<RunningProvider> {
  const child: ChildProcess = spawn(process.execPath, [SERVER], {
    env: { PATH: process.env.PATH ?? '', OIDC_SERVER_CONFIG: JSON.stringify(settings) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const issuer = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`oidc-provider did not start in 15 s: ${output}`)), 15_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening (\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.on('exit', (code) => reject(new Error(`oidc-provider exited ${code}: ${output}`)));
  });
  const clients = new Map(settings.clients.map((client) => [client.id, client]));
  const basic = (id: string) => `Basic ${Buffer.from(`${id}:${clients.get(id)!.secret}`).toString('base64')}`;
  return {
    issuer,
    async token(clientId, options = {}) {
      const response = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { authorization: basic(clientId) },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          scope: options.scope ?? clients.get(clientId)!.scope,
          resource: `urn:nginx-authz:${options.format ?? 'jwt'}`,
        }),
      });
      const body = (await response.json()) as { access_token?: string; error?: string; error_description?: string };
      if (!response.ok || body.access_token === undefined)
        throw new Error(`token for ${clientId}: ${response.status} ${body.error} ${body.error_description}`);
      return body.access_token;
    },
    async revoke(clientId, token) {
      const response = await fetch(`${issuer}/token/revocation`, {
        method: 'POST',
        headers: { authorization: basic(clientId) },
        body: new URLSearchParams({ token }),
      });
      if (!response.ok) throw new Error(`revocation: ${response.status}`);
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}
