import { jest } from '@jest/globals';
import { IdpUnavailable, StoreUnavailable, Unauthenticated } from '../../src/errors.js';
import { renewedToken, type RenewableToken } from '../../src/idp/renewal.js';

let now = 1_000_000;
const clock = () => now;
const holder = (expiresInMs: number): RenewableToken => ({
  tokens: { accessToken: 'old', accessExpiresAtMs: now + expiresInMs },
  renewing: undefined,
});

describe('renewedToken', () => {
  it('answers synchronously while the token has more than the margin left, without renewing', () => {
    const renew = jest.fn(async () => 'new');
    expect(renewedToken(holder(60_000), 30_000, clock, renew)).toBe('old');
    expect(renew).not.toHaveBeenCalled();
  });

  it('renews once for every caller that arrives while the renewal is under way', async () => {
    const h = holder(10_000);
    let release!: (token: string) => void;
    const renew = jest.fn(() => new Promise<string>((resolve) => (release = resolve)));
    const answers = [renewedToken(h, 30_000, clock, renew), renewedToken(h, 30_000, clock, renew), renewedToken(h, 30_000, clock, renew)];
    release('new');
    expect(await Promise.all(answers)).toEqual(['new', 'new', 'new']);
    expect(renew).toHaveBeenCalledTimes(1);
    expect(h.renewing).toBeUndefined();
  });

  it('keeps the old token while the IdP does not answer and it is still valid; fails closed after', async () => {
    const h = holder(10_000);
    const down = async (): Promise<string> => {
      throw new IdpUnavailable({ detail: 'down' });
    };
    await expect(renewedToken(h, 30_000, clock, down)).resolves.toBe('old');
    now += 10_000;
    await expect(renewedToken(h, 30_000, clock, down)).rejects.toBeInstanceOf(IdpUnavailable);
  });

  it('keeps the old token while the session store (Redis, the refresh lock) does not answer and it is still valid; 503 after', async () => {
    const h = holder(10_000);
    const storeDown = async (): Promise<string> => {
      throw new StoreUnavailable({ detail: 'redis down' });
    };
    await expect(renewedToken(h, 30_000, clock, storeDown)).resolves.toBe('old');
    now += 9_999;
    await expect(renewedToken(h, 30_000, clock, storeDown)).resolves.toBe('old');
    now += 1;
    await expect(renewedToken(h, 30_000, clock, storeDown)).rejects.toBeInstanceOf(StoreUnavailable);
  });

  it('passes a refusal on, even while the old token is valid', async () => {
    const refused = async (): Promise<string> => {
      throw new Unauthenticated('no_credentials');
    };
    await expect(renewedToken(holder(10_000), 30_000, clock, refused)).rejects.toBeInstanceOf(Unauthenticated);
  });
});
