/**
 * Authorization settings of the nginx-authz client created through Keycloak's admin API
 * (dev-only admin of the stack), each removed again by `cleanUp()`.
 */
import { stack } from './stack.js';

/** Headers for Keycloak's admin REST API: a fresh token of the stack's dev-only admin. */
export async function adminHeaders(): Promise<Record<string, string>> {
  const response = await fetch(`${stack.KC_URL}/realms/master/protocol/openid-connect/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'password',
      client_id: 'admin-cli',
      username: stack.KC_ADMIN_USERNAME!,
      password: stack.KC_ADMIN_PASSWORD!,
    }),
  });
  const { access_token } = (await response.json()) as { access_token: string };
  return { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' };
}

export class AuthzAdmin {
  private readonly created: string[] = []; // URLs to DELETE, newest first
  private constructor(
    private headers: Record<string, string>,
    private readonly base: string,
  ) {}

  static async open(): Promise<AuthzAdmin> {
    const headers = await adminHeaders();
    const clients = `${stack.KC_URL}/admin/realms/mlflow/clients`;
    const [client] = (await (await fetch(`${clients}?clientId=${stack.AUTHZ_CLIENT_ID ?? 'nginx-authz'}`, { headers })).json()) as {
      id: string;
    }[];
    return new AuthzAdmin(headers, `${clients}/${client!.id}/authz/resource-server`);
  }

  async userId(username: string): Promise<string> {
    const [user] = (await (
      await fetch(`${stack.KC_URL}/admin/realms/mlflow/users?username=${username}&exact=true`, { headers: this.headers })
    ).json()) as { id: string }[];
    return user!.id;
  }

  async scopeId(name: string): Promise<string> {
    const scopes = (await (await fetch(`${this.base}/scope`, { headers: this.headers })).json()) as { id: string; name: string }[];
    return scopes.find((scope) => scope.name === name)!.id;
  }

  /** POST `path` (`resource`, `policy/user`, `permission/scope`) under the resource server; its id. */
  async create(path: string, body: unknown): Promise<string> {
    const response = await fetch(`${this.base}/${path}`, { method: 'POST', headers: this.headers, body: JSON.stringify(body) });
    const answer = (await response.json()) as { id?: string; _id?: string };
    if (response.status !== 201 && response.status !== 200) throw new Error(`${path}: ${response.status} ${JSON.stringify(answer)}`);
    const id = answer._id ?? answer.id!;
    this.created.unshift(`${this.base}/${path.split('/')[0]}/${id}`);
    return id;
  }

  /** A user policy for `username` and a scope permission granting it `scope` on `resourceId`. */
  async grant(username: string, resourceId: string, scope: string, name: string): Promise<void> {
    const policy = await this.create('policy/user', { name: `${name}-policy`, users: [await this.userId(username)], logic: 'POSITIVE' });
    await this.create('permission/scope', {
      name: `${name}-permission`,
      resources: [resourceId],
      scopes: [await this.scopeId(scope)],
      policies: [policy],
      decisionStrategy: 'UNANIMOUS',
    });
  }

  async cleanUp(): Promise<void> {
    this.headers = await adminHeaders();
    for (const url of this.created.splice(0)) await fetch(url, { method: 'DELETE', headers: this.headers });
  }
}

/**
 * Sets one attribute of a realm client (e.g. `access.token.lifespan`, seconds, which overrides
 * the realm's for that client's tokens only) and returns a function that restores it.
 */
export async function setClientAttribute(clientId: string, name: string, value: string): Promise<() => Promise<void>> {
  const headers = await adminHeaders();
  const clients = `${stack.KC_URL}/admin/realms/mlflow/clients`;
  const [client] = (await (await fetch(`${clients}?clientId=${clientId}`, { headers })).json()) as {
    id: string;
    attributes?: Record<string, string>;
  }[];
  const before = client!.attributes?.[name];
  const put = async (attributeValue: string | undefined): Promise<void> => {
    const current = (await (await fetch(`${clients}/${client!.id}`, { headers: await adminHeaders() })).json()) as {
      attributes?: Record<string, string>;
    };
    const attributes = { ...current.attributes };
    if (attributeValue === undefined)
      attributes[name] = ''; // Keycloak drops empty attributes
    else attributes[name] = attributeValue;
    const response = await fetch(`${clients}/${client!.id}`, {
      method: 'PUT',
      headers: await adminHeaders(),
      body: JSON.stringify({ ...current, attributes }),
    });
    if (response.status !== 204) throw new Error(`PUT client ${clientId}: ${response.status}`);
  };
  await put(value);
  return () => put(before);
}

/** Ends every Keycloak session of `username` (as an admin's "sign out" would): its refresh tokens stop working. */
export async function logoutUser(username: string): Promise<void> {
  const headers = await adminHeaders();
  const [user] = (await (await fetch(`${stack.KC_URL}/admin/realms/mlflow/users?username=${username}&exact=true`, { headers })).json()) as {
    id: string;
  }[];
  const response = await fetch(`${stack.KC_URL}/admin/realms/mlflow/users/${user!.id}/logout`, { method: 'POST', headers });
  if (response.status !== 204) throw new Error(`logout ${username}: ${response.status}`);
}

/** Ends one Keycloak session (`sid`) as an admin would; Keycloak then posts its clients' back-channel logout tokens. */
export async function endSession(sid: string): Promise<void> {
  const headers = await adminHeaders();
  const response = await fetch(`${stack.KC_URL}/admin/realms/mlflow/sessions/${encodeURIComponent(sid)}`, { method: 'DELETE', headers });
  if (response.status !== 204) throw new Error(`end session: ${response.status}`);
}
