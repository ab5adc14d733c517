import * as oidc from 'openid-client';
import { IdpUnavailable } from '../../src/errors.js';
import { runGrant } from '../../src/idp/grants.js';

describe('runGrant', () => {
  const clock = () => 1_000_000;
  const failing = (error: Error) => () => Promise.reject(error);
  /** A ClientError as openid-client throws it (its constructor takes the code in the options; the typings omit it). */
  const clientError = (message: string, code: string): Error => new oidc.ClientError(message, { code } as ErrorOptions);

  it.each(['OAUTH_TIMEOUT', 'OAUTH_ABORT'])(
    'an IdP that does not answer in time (%s) is unavailable, not a refusal: it must not end a session',
    async (code) => {
      const outcome = runGrant(failing(clientError('operation timed out', code)), clock, 'refresh grant');
      await expect(outcome).rejects.toBeInstanceOf(IdpUnavailable);
      await expect(outcome).rejects.toMatchObject({ detail: 'refresh grant: timed out' });
    },
  );

  it('a response that failed a check is a refusal', async () => {
    await expect(
      runGrant(failing(clientError('unexpected ID Token "nonce" claim value', 'OAUTH_JWT_CLAIM_COMPARISON_FAILED')), clock, 'code grant'),
    ).resolves.toEqual({ refused: 'OAUTH_JWT_CLAIM_COMPARISON_FAILED' });
  });

  it('tokens are returned with their expiry', async () => {
    const response = {
      access_token: 'at',
      token_type: 'bearer',
      expires_in: 60,
      refresh_token: 'rt',
    } as unknown as oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
    await expect(runGrant(() => Promise.resolve(response), clock, 'x')).resolves.toEqual({
      accessToken: 'at',
      accessExpiresAtMs: 1_060_000,
      refreshToken: 'rt',
      idToken: undefined,
    });
  });
});
