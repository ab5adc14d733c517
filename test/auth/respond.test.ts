import type { ServerResponse } from 'node:http';
import { groupsHeader, headerSafe, sendAllow, sendRefusal } from '../../src/auth/respond.js';
import {
  BadCredentials,
  Forbidden,
  IdpUnavailable,
  PermissionTicketChallenge,
  RateLimited,
  Throttled,
  Unauthenticated,
} from '../../src/errors.js';
import type { Identity } from '../../src/tokens/verify.js';

// Step 6 of /auth on its own: the identity headers an allow carries (what the upstream trusts)
// and the headers of each kind of refusal, read from a recording response.

/** A ServerResponse double: records headers by lower-cased name, the status and whether it ended. */
function response() {
  const headers: Record<string, string> = {};
  const res = {
    statusCode: 0,
    ended: false,
    setHeader(name: string, value: string) {
      headers[name.toLowerCase()] = value;
    },
    end() {
      res.ended = true;
    },
  };
  return { res: res as unknown as ServerResponse & { ended: boolean }, headers };
}

const identity = (over: Partial<Identity> = {}): Identity => ({
  subject: 'u-42',
  username: 'alice',
  email: 'alice@example.test',
  groups: ['/mlflow-admins', 'ops'],
  expiresAtMs: 0,
  tokenHash: 'h',
  permissions: undefined,
  ...over,
});

describe('headerSafe', () => {
  it('keeps printable ASCII from space to tilde, and encodes controls, DEL, % and , as upper-case UTF-8 escapes', () => {
    expect(headerSafe(' az~!"', 100)).toBe(' az~!"');
    expect(headerSafe('\u001f\t\u007f%,', 100)).toBe('%1F%09%7F%25%2C');
    expect(headerSafe('zoë', 100)).toBe('zo%C3%AB');
    expect(headerSafe('a😀', 100)).toBe('a%F0%9F%98%80');
  });

  it('cuts to maxBytes without splitting an escape', () => {
    expect(headerSafe('abc', 3)).toBe('abc');
    expect(headerSafe('abcd', 3)).toBe('abc');
    expect(headerSafe('aé', 6)).toBe('a');
    expect(headerSafe('aé', 7)).toBe('a%C3%A9');
    expect(headerSafe('aéb', 7)).toBe('a%C3%A9');
  });
});

describe('groupsHeader', () => {
  it('lists whole groups, comma-separated, without one leading slash each', () => {
    expect(groupsHeader(['/a/b', '//c', 'd', 'e/f'], 100)).toBe('a/b,/c,d,e/f');
    expect(groupsHeader([], 100)).toBe('');
  });

  it('stops at the first group that does not fit, and keeps exactly maxBytes', () => {
    expect(groupsHeader(['aa', 'bb', 'c'], 5)).toBe('aa,bb');
    expect(groupsHeader(['aa', 'bb', 'c'], 4)).toBe('aa');
    expect(groupsHeader(['aa', 'bbbb', 'c'], 4)).toBe('aa');
    expect(groupsHeader(['a,b'], 100)).toBe('a%2Cb');
  });
});

describe('sendAllow', () => {
  it('answers 200 with every identity header, and NGINX’s cache time', () => {
    const { res, headers } = response();
    sendAllow(res, identity(), 100, '4');
    expect(res.statusCode).toBe(200);
    expect(res.ended).toBe(true);
    expect(headers).toEqual({
      'x-accel-expires': '4',
      'x-auth-request-user': 'alice',
      'x-auth-request-subject': 'u-42',
      'x-auth-request-preferred-username': 'alice',
      'x-auth-request-email': 'alice@example.test',
      'x-auth-request-groups': 'mlflow-admins,ops',
    });
  });

  it('names the subject as the user when there is no user name, and leaves out absent claims', () => {
    const { res, headers } = response();
    sendAllow(res, identity({ username: undefined, email: undefined, groups: [] }), 100);
    expect(headers).toEqual({ 'x-accel-expires': '0', 'x-auth-request-user': 'u-42', 'x-auth-request-subject': 'u-42' });
  });

  it('carries no identity for a public route, and bounds each value', () => {
    const anonymous = response();
    sendAllow(anonymous.res, undefined, 100, '3');
    expect(anonymous.headers).toEqual({ 'x-accel-expires': '3' });
    expect(anonymous.res.statusCode).toBe(200);
    const long = response();
    sendAllow(
      long.res,
      identity({ username: 'x'.repeat(50), subject: 's'.repeat(50), email: 'e'.repeat(50), groups: ['g'.repeat(50)] }),
      8,
    );
    expect(Object.values(long.headers).every((value) => value.length <= 8)).toBe(true);
    expect(long.headers['x-auth-request-user']).toBe('xxxxxxxx');
  });
});

describe('sendRefusal', () => {
  const refuse = (error: Parameters<typeof sendRefusal>[1], reason?: string) => {
    const { res, headers } = response();
    sendRefusal(res, error, 'mlflow', reason);
    expect(res.ended).toBe(true);
    expect(headers['x-accel-expires']).toBe('0');
    return { status: res.statusCode, headers };
  };

  it('challenges with the permission ticket for UMA', () => {
    const { status, headers } = refuse(new PermissionTicketChallenge('T1', 'https://kc.example/realms/r'), 'need an RPT');
    expect(status).toBe(401);
    expect(headers['www-authenticate']).toBe('UMA realm="mlflow", as_uri="https://kc.example/realms/r", ticket="T1"');
    expect(headers['x-authz-reason']).toBe('need an RPT');
  });

  it('challenges in kind for refused or throttled Basic credentials; only a throttle says when to retry', () => {
    const refused = refuse(new BadCredentials());
    expect(refused.headers['www-authenticate']).toBe('Basic realm="mlflow", charset="UTF-8"');
    expect(refused.headers['x-authz-retry-after']).toBeUndefined();
    const throttled = refuse(new Throttled(7, 'user'));
    expect(throttled.status).toBe(401);
    expect(throttled.headers['www-authenticate']).toBe('Basic realm="mlflow", charset="UTF-8"');
    expect(throttled.headers['x-authz-retry-after']).toBe('7');
  });

  it('challenges Bearer callers, naming invalid_token only when a token was refused', () => {
    expect(refuse(new Unauthenticated('invalid_token')).headers['www-authenticate']).toBe('Bearer realm="mlflow", error="invalid_token"');
    const none = refuse(new Unauthenticated('no_credentials'));
    expect(none.headers['www-authenticate']).toBe('Bearer realm="mlflow"');
    expect(none.headers['x-authz-retry-after']).toBeUndefined();
    const limited = refuse(new RateLimited(3));
    expect(limited.headers['www-authenticate']).toBe('Bearer realm="mlflow"');
    expect(limited.headers['x-authz-retry-after']).toBe('3');
  });

  it('sends no challenge with 403 or 503, and the reason only when there is one', () => {
    const denied = refuse(new Forbidden('access_denied'), 'Permission denied');
    expect(denied.status).toBe(403);
    expect(denied.headers).toEqual({ 'x-authz-reason': 'Permission denied', 'x-accel-expires': '0' });
    const down = refuse(new IdpUnavailable());
    expect(down.status).toBe(503);
    expect(down.headers).toEqual({ 'x-accel-expires': '0' });
  });
});
