import type { JWTPayload } from 'jose';

/**
 * The permissions an RPT grants, as `resource#scope` keys, or undefined for a token that is
 * not an RPT (no `authorization.permissions` claim).
 *
 * Keycloak puts `authorization.permissions[] = {rsid, rsname, scopes}` into an RPT (a JWT
 * signed like any access token) and sets its `aud` to the resource server it was asked for
 * (seen on 26.7.3: `aud: "nginx-authz"` alone). The token is verified (issuer, signature,
 * audience = this resource server) before this runs, so the names are this server's resources:
 * matching `rsname` against the route table's names needs no id lookup.
 *
 * A permission without scopes grants the resource only (a resource without scopes in
 * Keycloak); it matches no scoped route, so nothing is allowed on a guess.
 */
export function rptPermissions(payload: JWTPayload): ReadonlySet<string> | undefined {
  const authorization = payload.authorization;
  if (typeof authorization !== 'object' || authorization === null) return undefined;
  const permissions = (authorization as { permissions?: unknown }).permissions;
  if (!Array.isArray(permissions)) return undefined;
  const granted = new Set<string>();
  for (const permission of permissions as unknown[]) {
    if (typeof permission !== 'object' || permission === null) continue;
    const { rsname, scopes } = permission as { rsname?: unknown; scopes?: unknown };
    if (typeof rsname !== 'string' || !Array.isArray(scopes)) continue;
    for (const scope of scopes) if (typeof scope === 'string') granted.add(permissionKey(rsname, scope));
  }
  return granted;
}

/** The key of one permission: `resource#scope`, as in a UMA `permission=` parameter. */
export function permissionKey(resource: string, scope: string): string {
  return `${resource}#${scope}`;
}
