/**
 * A small OIDC + UMA token endpoint double for unit tests only (integration tests use the
 * real Keycloak): discovery, a rotatable JWKS, and a token endpoint whose UMA answers the
 * test scripts. It signs tokens with locally generated keys.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload, type CryptoKey } from 'jose';
import { AuthorizationCodes, type IdTokenClaims } from './fake-idp-codes.js';

export interface UmaRequest {
  authorization: string | undefined;
  form: URLSearchParams;
  rawBody: string;
  /** The request's Content-Type and Accept (recorded at the token endpoint: Keycloak reads a form only as such). */
  contentType?: string | undefined;
  accept?: string | undefined;
}
export type UmaAnswer = { status: number; body?: unknown; delayMs?: number };

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export class FakeIdp {
  private server: Server | undefined;
  private keys: SigningKey[] = [];
  private published: SigningKey[] = [];
  url = '';
  umaCalls: UmaRequest[] = [];
  jwksFetches = 0;
  discoveryFetches = 0;
  /** While set, discovery answers wait for it (a slow or starting IdP). */
  discoveryGate: Promise<void> | undefined;
  patCalls: UmaRequest[] = [];
  protectionCalls: { method: string; path: string; authorization: string | undefined; body: string }[] = [];
  patLifetimeSec = 300;
  /** Answers the client-credentials grant (the PAT); default: a new PAT of `patLifetimeSec`. */
  pat: (request: UmaRequest) => UmaAnswer = () => ({
    status: 200,
    body: { access_token: `pat-${this.patCalls.length}`, token_type: 'Bearer', expires_in: this.patLifetimeSec },
  });
  /** Resource name → id for `resource_set?name=`; default: every name exists, id `id-<name>`. */
  resources: (name: string) => string | undefined = (name) => `id-${name}`;
  /** Request path → resources (`{ name }`) whose uris match it, for `resource_set?uri=&matchingUri=true&deep=true`; default: none. */
  uriResources: (uri: string) => { name: string }[] = () => [];
  /** Answers the permission endpoint; default: a ticket naming the requested resource and scopes. */
  permission: (body: unknown) => UmaAnswer = (body) => ({
    status: 201,
    body: { ticket: `ticket.${Buffer.from(JSON.stringify(body)).toString('base64url')}` },
  });
  /** PATs the protection API accepts; default: any `pat-*`. */
  patValid: (pat: string) => boolean = (pat) => pat.startsWith('pat-');
  /** RFC 7662 calls received (form and Authorization header). */
  introspectCalls: UmaRequest[] = [];
  /** Answers introspection; default: every token inactive. */
  introspect: (request: UmaRequest) => UmaAnswer = () => ({ status: 200, body: { active: false } });
  /** The authorization code flow: `codes.authorize(url)` signs a user in; `codes.calls` records each code exchange. */
  codes = new AuthorizationCodes();
  /** Claims of the ID token for a code; default: the signed-in user and the nonce of the authorization request. */
  idTokenClaims: IdTokenClaims = (code) => ({ sub: 'user-1', nonce: code.nonce });
  /** When set, the JWKS endpoint answers this instead of the published keys (an IdP whose key set is broken). */
  jwksAnswer: UmaAnswer | undefined;
  /** When set, the token endpoint answers every authorization-code exchange with this instead (an IdP that is down or slow). */
  codeExchangeAnswer: UmaAnswer | undefined;
  /** False: discovery names no end_session_endpoint (an IdP without RP-initiated logout). */
  endSession = true;
  /** Decides each UMA request; default: allow everything. */
  uma: (request: UmaRequest) => UmaAnswer = () => ({ status: 200, body: { result: true } });

  async start(): Promise<this> {
    await this.rotate();
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/realms/test`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server === undefined ? resolve() : this.server.close(() => resolve())));
  }

  /** Generates a new signing key; `publish` false keeps it out of the JWKS until `publishAll`. */
  async rotate(publish = true): Promise<SigningKey> {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const kid = `k${this.keys.length + 1}`;
    const key: SigningKey = { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
    this.keys.push(key);
    if (publish) this.published.push(key);
    return key;
  }

  publishAll(): void {
    this.published = [...this.keys];
  }

  get currentKey(): SigningKey {
    return this.keys[this.keys.length - 1]!;
  }

  /** An access token as Keycloak would issue it, with overridable claims and header. */
  async token(claims: JWTPayload = {}, options: { key?: SigningKey; expiresInSec?: number; nowSec?: number } = {}): Promise<string> {
    const key = options.key ?? this.currentKey;
    const now = options.nowSec ?? Math.floor(Date.now() / 1000);
    return new SignJWT({
      iss: this.url,
      aud: ['nginx-authz', 'account'],
      sub: 'user-1',
      typ: 'Bearer',
      azp: 'mlflow-cli',
      preferred_username: 'alice',
      email: 'alice@example.test',
      groups: ['mlflow-admins'],
      iat: now,
      exp: now + (options.expiresInSec ?? 300),
      ...claims,
    })
      .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' })
      .sign(key.privateKey);
  }

  /** An ID token for `clientId` (OpenID Connect Core §2). */
  /** The ID token of a code exchange, or none when the test's claims say so. */
  private idTokenFor(clientId: string, claims: JWTPayload | undefined): Promise<string | undefined> {
    return claims === undefined ? Promise.resolve(undefined) : this.idToken(clientId, claims);
  }

  async idToken(clientId: string, claims: JWTPayload): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: this.url, aud: clientId, azp: clientId, iat: now, exp: now + 300, preferred_username: 'alice', ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: this.currentKey.kid, typ: 'JWT' })
      .sign(this.currentKey.privateKey);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const base = new URL(this.url).pathname;
    if (path === `${base}/.well-known/openid-configuration`) {
      this.discoveryFetches++;
      await this.discoveryGate;
      return json(res, 200, {
        issuer: this.url,
        authorization_endpoint: `${this.url}/protocol/openid-connect/auth`,
        token_endpoint: `${this.url}/protocol/openid-connect/token`,
        jwks_uri: `${this.url}/protocol/openid-connect/certs`,
        introspection_endpoint: `${this.url}/protocol/openid-connect/token/introspect`,
        ...(this.endSession ? { end_session_endpoint: `${this.url}/protocol/openid-connect/logout` } : {}),
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
      });
    }
    if (path === `${base}/.well-known/uma2-configuration`) {
      return json(res, 200, {
        issuer: this.url,
        token_endpoint: `${this.url}/protocol/openid-connect/token`,
        permission_endpoint: `${this.url}/authz/protection/permission`,
        resource_registration_endpoint: `${this.url}/authz/protection/resource_set`,
      });
    }
    if (path.startsWith(`${base}/authz/protection/`)) {
      const body = await readBody(req);
      this.protectionCalls.push({ method: req.method ?? '', path: req.url ?? '', authorization: req.headers.authorization, body });
      const pat = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (pat === undefined || !this.patValid(pat)) return json(res, 403, { error: 'invalid_bearer_token' });
      if (path === `${base}/authz/protection/resource_set`) {
        const query = new URL(req.url ?? '/', 'http://x').searchParams;
        if (query.has('uri')) return json(res, 200, this.uriResources(query.get('uri')!));
        const id = this.resources(query.get('name') ?? '');
        return json(res, 200, id === undefined ? [] : [id]);
      }
      if (path === `${base}/authz/protection/permission` && req.method === 'POST') {
        const answer = this.permission(JSON.parse(body));
        return json(res, answer.status, answer.body ?? {});
      }
    }
    if (path === `${base}/protocol/openid-connect/certs`) {
      this.jwksFetches++;
      if (this.jwksAnswer !== undefined) return json(res, this.jwksAnswer.status, this.jwksAnswer.body ?? {});
      return json(res, 200, { keys: this.published.map((key) => key.publicJwk) });
    }
    if (path === `${base}/protocol/openid-connect/token/introspect` && req.method === 'POST') {
      const rawBody = await readBody(req);
      const request: UmaRequest = { authorization: req.headers.authorization, form: new URLSearchParams(rawBody), rawBody };
      this.introspectCalls.push(request);
      const answer = this.introspect(request);
      if (answer.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
      return json(res, answer.status, answer.body ?? {});
    }
    if (path === `${base}/protocol/openid-connect/token` && req.method === 'POST') {
      const rawBody = await readBody(req);
      const request: UmaRequest = {
        authorization: req.headers.authorization,
        form: new URLSearchParams(rawBody),
        rawBody,
        contentType: req.headers['content-type'],
        accept: req.headers.accept,
      };
      if (request.form.get('grant_type') === 'authorization_code') {
        const down = this.codeExchangeAnswer;
        if (down !== undefined) {
          if (down.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, down.delayMs));
          if (res.destroyed) return;
          return json(res, down.status, down.body ?? {});
        }
        const answer = await this.codes.exchange(request.form, request.authorization, async (code) => ({
          accessToken: await this.token({ sub: 'user-1', azp: code.clientId }),
          idToken: await this.idTokenFor(code.clientId, this.idTokenClaims(code)),
        }));
        return json(res, answer.status, answer.body);
      }
      const isPat = request.form.get('grant_type') === 'client_credentials';
      (isPat ? this.patCalls : this.umaCalls).push(request);
      const answer = isPat ? this.pat(request) : this.uma(request);
      if (answer.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
      if (res.destroyed) return;
      return json(res, answer.status, answer.body ?? {});
    }
    json(res, 404, { error: 'not_found' });
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}
