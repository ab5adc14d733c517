import type { IncomingMessage } from 'node:http';
import type { CredentialSource } from '../../src/auth/nginx-cache.js';
import { TokenSource } from '../../src/auth/token-source.js';
import type { BasicExchange } from '../../src/basic/exchange.js';
import { CrossOriginRequest, Unauthenticated } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import type { OriginalRequest } from '../../src/request/original.js';
import type { Sessions } from '../../src/session/sessions.js';
import { LogCapture } from '../helpers/service.js';

// Step 3 of /auth on its own, with small doubles for the session store and the Basic exchange:
// which credential wins when several are sent, what each source records for NGINX's cache, and
// which client address reaches the Basic throttle.

type SessionAnswer = string | undefined | Promise<string | undefined>;

/** A session double: answers `answer` for any Cookie header and records the headers it was asked about. */
function sessions(answer: SessionAnswer) {
  const asked: (string | string[] | undefined)[] = [];
  const double = {
    accessToken(cookie: string | string[] | undefined) {
      asked.push(cookie);
      return answer;
    },
  };
  return { double: double as unknown as Sessions, asked };
}

/** A Basic exchange double: the token is `exchanged:<user>:<password>`; records the address it was given. */
function exchange() {
  const calls: [string, string, string | undefined][] = [];
  const double = {
    token(username: string, password: string, address: string | undefined) {
      calls.push([username, password, address]);
      return `exchanged:${username}:${password}`;
    },
  };
  return { double: double as unknown as BasicExchange, calls };
}

const req = (headers: Record<string, string | string[]>) => ({ headers }) as unknown as IncomingMessage;
const basicHeader = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`;
const GET = { 'x-original-method': 'GET' };

function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return 'nothing thrown';
}

describe('TokenSource: which credential wins', () => {
  it('takes a Bearer header before a session cookie and before Basic, and records bearer', () => {
    const session = sessions('session-token');
    const basic = exchange();
    const source = { credential: 'none' as CredentialSource };
    const token = new TokenSource(session.double, basic.double).tokenOf(
      req({ ...GET, authorization: 'Bearer header-token', cookie: 'authz_session=x' }),
      undefined,
      source,
    );
    expect(token).toBe('header-token');
    expect(source.credential).toBe('bearer');
    expect(session.asked).toEqual([]);
    expect(basic.calls).toEqual([]);
  });

  it('takes the session cookie before Basic credentials, and records session', () => {
    const session = sessions('session-token');
    const basic = exchange();
    const source = { credential: 'none' as CredentialSource };
    const token = new TokenSource(session.double, basic.double).tokenOf(
      req({ ...GET, authorization: basicHeader('alice:pw'), cookie: 'authz_session=x' }),
      undefined,
      source,
    );
    expect(token).toBe('session-token');
    expect(source.credential).toBe('session');
    expect(session.asked).toEqual(['authz_session=x']);
    expect(basic.calls).toEqual([]);
  });

  it('falls back to Basic when the session (asynchronously) has no token, and records basic', async () => {
    const basic = exchange();
    const source = { credential: 'none' as CredentialSource };
    const token = new TokenSource(sessions(Promise.resolve(undefined)).double, basic.double).tokenOf(
      req({ ...GET, authorization: basicHeader('alice:pw'), 'x-original-remote-addr': '10.0.0.7' }),
      undefined,
      source,
    );
    expect(token).toBeInstanceOf(Promise);
    await expect(token).resolves.toBe('exchanged:alice:pw');
    expect(source.credential).toBe('basic');
    expect(basic.calls).toEqual([['alice', 'pw', '10.0.0.7']]);
  });

  it('takes a session token found asynchronously (a refresh), records session and still checks the origin', async () => {
    const source = { credential: 'none' as CredentialSource };
    const ts = new TokenSource(sessions(Promise.resolve('refreshed')).double, exchange().double);
    await expect(ts.tokenOf(req({ ...GET, cookie: 'c=1' }), undefined, source)).resolves.toBe('refreshed');
    expect(source.credential).toBe('session');
    await expect(ts.tokenOf(req({ 'x-original-method': 'POST', cookie: 'c=1' }))).rejects.toBeInstanceOf(CrossOriginRequest);
  });

  it('works without a source to record into, for every kind of credential', async () => {
    expect(new TokenSource(undefined, undefined).tokenOf(req({ authorization: 'Bearer t' }))).toBe('t');
    expect(new TokenSource(sessions('s').double, undefined).tokenOf(req({ ...GET }))).toBe('s');
    await expect(new TokenSource(sessions(Promise.resolve('r')).double, undefined).tokenOf(req({ ...GET }))).resolves.toBe('r');
    expect(new TokenSource(undefined, exchange().double).tokenOf(req({ authorization: basicHeader('a:b') }))).toBe('exchanged:a:b');
  });

  it('answers no_credentials when nothing is sent, and unsupported_credentials for Basic when it is not enabled', () => {
    const none = thrownBy(() => new TokenSource(sessions(undefined).double, exchange().double).tokenOf(req({ ...GET })));
    expect(none).toBeInstanceOf(Unauthenticated);
    expect((none as Unauthenticated).code).toBe('no_credentials');
    const empty = thrownBy(() => new TokenSource(undefined, exchange().double).tokenOf(req({ authorization: '' })));
    expect((empty as Unauthenticated).code).toBe('no_credentials');
    const disabled = thrownBy(() => new TokenSource(undefined, undefined).tokenOf(req({ authorization: basicHeader('a:b') })));
    expect(disabled).toBeInstanceOf(Unauthenticated);
    expect((disabled as Unauthenticated).code).toBe('unsupported_credentials');
  });
});

describe('TokenSource: the address given to the Basic throttle', () => {
  const original = (clientAddress: string | undefined): OriginalRequest => ({
    contract: 'ingress-nginx',
    method: 'GET',
    target: '/',
    clientAddress,
    origin: undefined,
  });

  it('is the proxy’s own view: X-Original-Remote-Addr, or the original request’s client address when read', () => {
    const basic = exchange();
    const ts = new TokenSource(undefined, basic.double);
    const headers = { authorization: basicHeader('u:p'), 'x-original-remote-addr': '10.0.0.1' };
    ts.tokenOf(req(headers));
    ts.tokenOf(req(headers), original('10.0.0.2'));
    ts.tokenOf(req(headers), original(undefined));
    expect(basic.calls.map((call) => call[2])).toEqual(['10.0.0.1', '10.0.0.2', undefined]);
  });

  it('is undefined for an empty or repeated header', () => {
    const basic = exchange();
    const ts = new TokenSource(undefined, basic.double);
    ts.tokenOf(req({ authorization: basicHeader('u:p'), 'x-original-remote-addr': '' }));
    ts.tokenOf(req({ authorization: basicHeader('u:p'), 'x-original-remote-addr': ['10.0.0.1', '10.0.0.2'] }));
    ts.tokenOf(req({ authorization: basicHeader('u:p') }), original(''));
    expect(basic.calls.map((call) => call[2])).toEqual([undefined, undefined, undefined]);
  });
});

describe('TokenSource: the CSRF check of a session token', () => {
  it('refuses a session token when the original method is missing (fail closed)', () => {
    const error = thrownBy(() => new TokenSource(sessions('s').double, undefined).tokenOf(req({ cookie: 'c=1' })));
    expect(error).toBeInstanceOf(CrossOriginRequest);
  });

  it('compares with the origin ingress-nginx reported (its host allowed), not with the forwarded host', () => {
    const logs = new LogCapture();
    const site = { login: { publicUrl: undefined, allowedHosts: ['ing.example.com'] }, log: createLogger('info', logs) };
    const ts = new TokenSource(sessions('s').double, undefined, site);
    const fromIngress: OriginalRequest = {
      contract: 'ingress-nginx',
      method: 'POST',
      target: '/x',
      clientAddress: undefined,
      origin: 'https://ing.example.com',
    };
    const post = { 'x-original-method': 'POST', cookie: 'c=1', 'x-forwarded-host': 'evil.example' };
    expect(ts.tokenOf(req({ ...post, origin: 'https://ing.example.com' }), fromIngress)).toBe('s');
    expect(thrownBy(() => ts.tokenOf(req({ ...post, origin: 'https://evil.example' }), fromIngress))).toBeInstanceOf(CrossOriginRequest);
    // Without the reported origin, the forwarded host (not allowed) gives no site: refused, and said so in the log.
    expect(thrownBy(() => ts.tokenOf(req({ ...post, origin: 'https://evil.example' })))).toBeInstanceOf(CrossOriginRequest);
    const warnings = logs.lines.map((line) => JSON.parse(line) as { level: number; msg: string; method?: string; reason?: string });
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatchObject({ level: 40, method: 'POST', reason: 'Origin is not https://ing.example.com' });
    expect(warnings[0]!.msg).toContain('CSRF check');
    expect(warnings[1]!.reason).toContain('origin is unknown');
    expect(logs.lines.join('\n')).not.toContain('c=1');
  });
});
