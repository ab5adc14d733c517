/**
 * The authorization code flow of the unit-test IdP double (test/helpers/fake-idp.ts): an
 * authorization endpoint that a test "visits" with the URL the service redirected to, and the
 * `authorization_code` grant of the token endpoint, which checks what a real IdP checks (RFC 6749
 * §4.1.3, RFC 7636 §4.6): the code exists, is used once, belongs to this client and redirect URI,
 * and the PKCE verifier hashes (S256) to the challenge of the authorization request. The ID token
 * carries the nonce of that request. Every token request and its outcome is recorded, so a test
 * can assert that none was made, or that none got tokens.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { JWTPayload } from 'jose';

export interface IssuedCode {
  code: string;
  clientId: string;
  redirectUri: string;
  scope: string;
  codeChallenge: string;
  codeChallengeMethod: string;
  nonce: string | undefined;
  used: boolean;
}

export interface CodeTokenCall {
  form: URLSearchParams;
  authorization: string | undefined;
  /** `issued`, or the OAuth error code the fake answered with. */
  outcome: 'issued' | 'invalid_grant' | 'invalid_client' | 'invalid_request';
}

type Answer = { status: number; body: Record<string, unknown> };

export class AuthorizationCodes {
  readonly issued = new Map<string, IssuedCode>();
  readonly calls: CodeTokenCall[] = [];

  /**
   * The IdP's authorization endpoint after the user signed in: checks the request the service
   * built and answers with the callback URL (code and state), as the browser would follow it.
   */
  authorize(authorizationUrl: string): string {
    const query = new URL(authorizationUrl).searchParams;
    const required = ['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'code_challenge', 'code_challenge_method'];
    const missing = required.filter((name) => !query.get(name));
    if (missing.length > 0) throw new Error(`fake IdP: authorization request without ${missing.join(', ')}`);
    if (query.get('response_type') !== 'code') throw new Error('fake IdP: only response_type=code');
    if (query.get('code_challenge_method') !== 'S256') throw new Error('fake IdP: only PKCE S256');
    const code = randomBytes(16).toString('base64url');
    this.issued.set(code, {
      code,
      clientId: query.get('client_id')!,
      redirectUri: query.get('redirect_uri')!,
      scope: query.get('scope')!,
      codeChallenge: query.get('code_challenge')!,
      codeChallengeMethod: 'S256',
      nonce: query.get('nonce') ?? undefined,
      used: false,
    });
    const callback = new URL(query.get('redirect_uri')!);
    callback.searchParams.set('code', code);
    callback.searchParams.set('state', query.get('state')!);
    return callback.href;
  }

  /**
   * The `authorization_code` grant. `tokens` signs the access and ID tokens once every check passed.
   * A code is spent by its first use, whether that use succeeds or not (as Keycloak does).
   */
  async exchange(
    form: URLSearchParams,
    authorization: string | undefined,
    tokens: (code: IssuedCode) => Promise<{ accessToken: string; idToken: string | undefined }>,
  ): Promise<Answer> {
    const refuse = (outcome: CodeTokenCall['outcome'], description: string): Answer => {
      this.calls.push({ form, authorization, outcome });
      return { status: 400, body: { error: outcome, error_description: description } };
    };
    const clientId = basicUser(authorization) ?? form.get('client_id') ?? undefined;
    const issued = this.issued.get(form.get('code') ?? '');
    if (issued === undefined) return refuse('invalid_grant', 'unknown code');
    if (issued.used) return refuse('invalid_grant', 'code already used');
    issued.used = true;
    if (clientId !== issued.clientId) return refuse('invalid_client', 'code issued to another client');
    if (form.get('redirect_uri') !== issued.redirectUri)
      return refuse('invalid_grant', 'redirect_uri differs from the authorization request');
    const verifier = form.get('code_verifier');
    if (verifier === null) return refuse('invalid_grant', 'PKCE verifier missing');
    if (createHash('sha256').update(verifier).digest('base64url') !== issued.codeChallenge)
      return refuse('invalid_grant', 'PKCE verification failed');
    const { accessToken, idToken } = await tokens(issued);
    this.calls.push({ form, authorization, outcome: 'issued' });
    return {
      status: 200,
      body: { access_token: accessToken, token_type: 'Bearer', expires_in: 300, refresh_token: `rt-${issued.code}`, id_token: idToken },
    };
  }

  /** How many token requests got tokens. */
  get tokensIssued(): number {
    return this.calls.filter((call) => call.outcome === 'issued').length;
  }
}

/** The ID token claims for a code: as issued, or changed by a test (e.g. another nonce); undefined: no ID token at all. */
export type IdTokenClaims = (code: IssuedCode) => JWTPayload | undefined;

function basicUser(authorization: string | undefined): string | undefined {
  const encoded = /^Basic (.+)$/.exec(authorization ?? '')?.[1];
  if (encoded === undefined) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  return decodeURIComponent(decoded.slice(0, decoded.indexOf(':')));
}
