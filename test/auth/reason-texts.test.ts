import { authenticationWays, REASON_MAX_BYTES, refusalReason, type RefusalContext } from '../../src/auth/reason.js';
import type { Config } from '../../src/config/schema.js';
import type { AuthzError } from '../../src/errors.js';

// The exact sentence each refusal gives the end user (the MLflow client's exception, the UI's error, curl's body).
// reason.test.ts checks that every sentence is safe and bounded; this table pins what each one says, so that a
// refusal can neither lose its explanation nor borrow another's (mutation testing, issue 16).

const WAYS = 'send an access token';
const CAROL: RefusalContext = { method: 'POST', resource: 'experiments', scope: 'write', user: 'carol' };
const NOBODY: RefusalContext = { method: 'DELETE', resource: undefined, scope: undefined, user: undefined };
const refusal = (code: string) => ({ code }) as unknown as AuthzError;

describe('refusalReason: the sentence for each refusal', () => {
  it.each([
    ['no_credentials', CAROL, `Authentication required: ${WAYS}`],
    ['unsupported_credentials', CAROL, `Authentication required: ${WAYS}`],
    ['invalid_token', CAROL, `Authentication required: the access token was not accepted (expired, revoked or not for this site); ${WAYS}`],
    ['invalid_credentials', CAROL, `Authentication required: the user name or password was not accepted; ${WAYS}`],
    [
      'uma_ticket',
      CAROL,
      'Authentication required: a requesting party token (RPT) is needed; exchange the permission ticket in WWW-Authenticate at the authorization server',
    ],
    ['throttled', CAROL, 'Too many failed sign-in attempts; retry later'],
    ['access_denied', CAROL, 'Permission denied: missing permission experiments#write for user carol'],
    ['access_denied', NOBODY, 'Permission denied'],
    [
      'route_misconfigured',
      CAROL,
      'Permission denied: the permission experiments#write is not set up at the authorization server (the service log has details)',
    ],
    [
      'route_misconfigured',
      NOBODY,
      'Permission denied: the permission for this route is not set up at the authorization server (the service log has details)',
    ],
    ['route_not_mapped', NOBODY, 'Permission denied: no permission is mapped for DELETE on this path (default deny)'],
    ['method_not_mapped', CAROL, 'Permission denied: no permission is mapped for POST on this path (default deny)'],
    [
      'bad_request_uri',
      CAROL,
      'Permission denied: the request URI was rejected (encoded slash, dot segment, control character or too long)',
    ],
    ['cross_origin_request', CAROL, 'Permission denied: a state-changing request from another site with the session cookie was refused'],
    ['unknown_service', CAROL, 'Permission denied: this front is not configured for a route table (the service log has details)'],
  ])('%s (%j)', (code, context, sentence) => {
    expect(refusalReason(refusal(code), context, WAYS)).toBe(sentence);
  });

  it('a method unknown to the route table is named as "this method"', () => {
    expect(refusalReason(refusal('method_not_mapped'), { ...NOBODY, method: undefined }, WAYS)).toBe(
      'Permission denied: no permission is mapped for this method on this path (default deny)',
    );
  });

  it('no sentence for refusals NGINX shows without a body', () => {
    for (const code of ['idp_unavailable', 'store_unavailable', 'missing_original_request'])
      expect(refusalReason(refusal(code), CAROL, WAYS)).toBeUndefined();
  });

  it(`a sentence longer than ${REASON_MAX_BYTES} bytes is cut at the bound`, () => {
    const ways = `send ${'x'.repeat(600)}`;
    const sentence = refusalReason(refusal('invalid_token'), CAROL, ways)!;
    expect(sentence).toHaveLength(REASON_MAX_BYTES);
    expect(sentence.startsWith('Authentication required: the access token was not accepted')).toBe(true);
  });
});

describe('authenticationWays: the whole sentence', () => {
  const settings = (basic: boolean, login: boolean, publicUrl?: string): Config =>
    ({ basic: { enabled: basic }, login: { enabled: login, publicUrl } }) as unknown as Config;

  it('Bearer only: no trailing login clause', () => {
    expect(authenticationWays(settings(false, false, 'https://mlflow.example.test'))).toBe(
      'send an access token (Authorization: Bearer; MLflow client: MLFLOW_TRACKING_TOKEN)',
    );
  });

  it('Bearer or Basic: the two ways joined by "or"', () => {
    expect(authenticationWays(settings(true, false))).toBe(
      'send an access token (Authorization: Bearer; MLflow client: MLFLOW_TRACKING_TOKEN) or a user name and password (HTTP Basic; MLflow client: MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD)',
    );
  });

  it('every trailing slash of the public URL goes before /oauth2/start', () => {
    expect(authenticationWays(settings(false, true, 'https://mlflow.example.test///'))).toBe(
      'send an access token (Authorization: Bearer; MLflow client: MLFLOW_TRACKING_TOKEN), or sign in with a browser at https://mlflow.example.test/oauth2/start',
    );
  });
});
