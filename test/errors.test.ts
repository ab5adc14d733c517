/**
 * src/errors.ts: every way a decision ends other than "allow" has its status (only the four NGINX's
 * auth_request can carry), its stable code (the metrics' `reason`), a message safe for the client,
 * and a detail that stays in the log.
 */
import {
  AuthzError,
  BadCredentials,
  BadOriginalRequest,
  ConflictingOriginalRequest,
  CrossOriginRequest,
  Forbidden,
  IdpUnavailable,
  PermissionTicketChallenge,
  RateLimited,
  RejectedUri,
  StoreUnavailable,
  Throttled,
  Unauthenticated,
  UnknownRouteTable,
  UnmappedRoute,
} from '../src/errors.js';

const DETAIL = 'secret-ish detail: token abc.def.ghi';
const options = { detail: DETAIL };

/** Each error as the code builds it, with its expected status, code and client message. */
const CASES: [AuthzError, number, string, string][] = [
  [
    new BadOriginalRequest('missing_original_request', options),
    400,
    'missing_original_request',
    'the auth_request subrequest lacks a readable X-Original-Method/X-Original-URI',
  ],
  [
    new BadOriginalRequest('bad_original_method', options),
    400,
    'bad_original_method',
    'the auth_request subrequest lacks a readable X-Original-Method/X-Original-URI',
  ],
  [new UnknownRouteTable(options), 403, 'unknown_service', 'route not permitted'],
  [new RejectedUri(options), 403, 'bad_request_uri', 'request URI rejected'],
  [new ConflictingOriginalRequest(options), 403, 'bad_request_uri', 'request URI rejected'],
  [new UnmappedRoute('route_not_mapped', options), 403, 'route_not_mapped', 'route not permitted'],
  [new UnmappedRoute('method_not_mapped', options), 403, 'method_not_mapped', 'route not permitted'],
  [new Unauthenticated('no_credentials', options), 401, 'no_credentials', 'authentication required'],
  [new Unauthenticated('unsupported_credentials', options), 401, 'unsupported_credentials', 'authentication required'],
  [new Unauthenticated('invalid_token', options), 401, 'invalid_token', 'the access token is invalid'],
  [new BadCredentials(options), 401, 'invalid_credentials', 'invalid username or password'],
  [new Throttled(30, 'user', options), 401, 'throttled', 'too many failed attempts'],
  [new RateLimited(2, options), 401, 'rate_limited', 'too many lookups'],
  [new Forbidden('access_denied', options), 403, 'access_denied', 'permission denied'],
  [new Forbidden('route_misconfigured', options), 403, 'route_misconfigured', 'permission denied'],
  [new CrossOriginRequest(options), 403, 'cross_origin_request', 'cross-origin request with the session cookie refused'],
  [new PermissionTicketChallenge('t', 'https://idp', options), 401, 'uma_ticket', 'a requesting party token is required'],
  [new IdpUnavailable(options), 503, 'idp_unavailable', 'authorization server unavailable'],
  [new StoreUnavailable(options), 503, 'store_unavailable', 'session store unavailable'],
];

describe('the error hierarchy', () => {
  it.each(CASES)('%p: status %p, code %p, message %p', (error, status, code, message) => {
    expect(error).toBeInstanceOf(AuthzError);
    expect(error).toBeInstanceOf(Error);
    expect(error.status).toBe(status);
    expect(error.code).toBe(code);
    expect(error.message).toBe(message);
    expect(error.name).toBe(error.constructor.name);
  });

  it('keeps the detail for the log and out of the message a client may see', () => {
    for (const [error] of CASES) {
      expect(error.detail).toBe(DETAIL);
      expect(error.message).not.toContain('abc.def.ghi');
      expect(String(error)).not.toContain('abc.def.ghi');
    }
  });

  it('keeps the cause when given, and has none otherwise', () => {
    const cause = new Error('ECONNREFUSED');
    expect(new IdpUnavailable({ cause }).cause).toBe(cause);
    expect(new IdpUnavailable().cause).toBeUndefined();
    expect(new IdpUnavailable().detail).toBeUndefined();
  });

  it('a conflicting original request is a rejected URI (answered the same) that can still be told apart', () => {
    const conflict = new ConflictingOriginalRequest();
    expect(conflict).toBeInstanceOf(RejectedUri);
    expect(new RejectedUri()).not.toBeInstanceOf(ConflictingOriginalRequest);
  });

  it('carries what the answer needs: the wait of a lockout or limit, the ticket and its server', () => {
    const throttled = new Throttled(30, 'address');
    expect([throttled.retryAfterSeconds, throttled.by]).toEqual([30, 'address']);
    expect(new RateLimited(2).retryAfterSeconds).toBe(2);
    const challenge = new PermissionTicketChallenge('ticket-1', 'https://idp/realms/x');
    expect([challenge.ticket, challenge.asUri]).toEqual(['ticket-1', 'https://idp/realms/x']);
  });
});
