// A real, non-Keycloak OpenID provider for the e2e tests: panva's oidc-provider (npm), run as its
// own process on 127.0.0.1 (the port is chosen by the OS and printed as `listening <issuer>`).
// What it is configured with comes from the test, as JSON in OIDC_SERVER_CONFIG:
//   { clients: [{ id, secret, scope, groups?, roles? }], audience, introspector: { id, secret } }
// Clients use the client-credentials grant (no browser): `resource=urn:nginx-authz:jwt` gives a JWT
// access token (RFC 9068, aud = `audience`), `resource=urn:nginx-authz:opaque` an opaque one that only
// introspection (RFC 7662) can read. Each client's `groups` and `roles` become claims of its tokens
// (`groups`, and the URL-named `https://mlflow.example/roles`), in JWTs and introspection answers alike.
// Plain http on loopback is accepted by oidc-provider outside production (NODE_ENV is not set here).
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const settings = JSON.parse(process.env.OIDC_SERVER_CONFIG ?? '{}');
const port = Number(process.env.OIDC_SERVER_PORT ?? 0);
const audience = settings.audience ?? 'nginx-authz';
const clients = settings.clients ?? [];
const byId = new Map(clients.map((client) => [client.id, client]));

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'e2e-1', alg: 'RS256', use: 'sig' };

const RESOURCES = { 'urn:nginx-authz:jwt': 'jwt', 'urn:nginx-authz:opaque': 'opaque' };
const ALL_SCOPES = [...new Set(clients.flatMap((client) => client.scope.split(' ')))];

// The issuer is only known once the port is: listen first, then build the provider on that server.
const { createServer } = await import('node:http');
const server = createServer();
await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    ...clients.map((client) => ({
      client_id: client.id,
      client_secret: client.secret,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: client.scope,
    })),
    // The resource server (nginx-authz) authenticates to the introspection endpoint with its own secret.
    ...(settings.introspector
      ? [
          {
            client_id: settings.introspector.id,
            client_secret: settings.introspector.secret,
            grant_types: [],
            redirect_uris: [],
            response_types: [],
            token_endpoint_auth_method: 'client_secret_basic',
          },
        ]
      : []),
  ],
  jwks: { keys: [jwk] },
  scopes: ['openid', ...ALL_SCOPES],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'urn:nginx-authz:jwt',
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, indicator) => {
        const format = RESOURCES[indicator];
        if (format === undefined) throw new Provider.errors.InvalidTarget();
        return { scope: ALL_SCOPES.join(' '), audience, accessTokenFormat: format, jwt: { sign: { alg: 'RS256' } } };
      },
    },
  },
  extraTokenClaims: (_ctx, token) => {
    const client = byId.get(token.clientId);
    if (client === undefined) return undefined;
    const claims = {};
    if (client.groups) claims.groups = client.groups;
    if (client.roles) claims['https://mlflow.example/roles'] = client.roles;
    if (client.email) claims.email = client.email;
    return claims;
  },
  ttl: { ClientCredentials: Number(settings.tokenTtlSeconds ?? 300) },
});
provider.on('server_error', (_ctx, error) => process.stderr.write(`server_error ${error.message}\n`));
server.on('request', provider.callback());
process.stdout.write(`listening ${issuer}\n`);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
