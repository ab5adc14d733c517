import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { BadOriginalRequest, ConflictingOriginalRequest, RejectedUri } from '../errors.js';
import type { TrustedProxies } from './trusted-proxies.js';

/**
 * Which proxy told us about the original request:
 * - `nginx`: this project's snippets (nginx/snippets/authz-subrequest.conf): X-Original-Method,
 *   X-Original-URI (`$request_uri`), X-Original-Remote-Addr (`$remote_addr`).
 * - `ingress-nginx`: the Kubernetes controller's `auth-url` subrequest: X-Original-Method,
 *   X-Original-URL (`$scheme://$http_host$request_uri`), X-Real-IP (`$remote_addr`),
 *   X-Sent-From. That subrequest also carries every header the client sent (the controller
 *   passes request headers on), so a client can add its own X-Original-URI or
 *   X-Original-Remote-Addr: under this contract both are ignored or refused, never believed.
 */
export type ProxyContract = 'nginx' | 'ingress-nginx';

/** The original request as the proxy described it, before normalisation. */
export interface OriginalRequest {
  contract: ProxyContract;
  /** X-Original-Method as sent. */
  method: string;
  /** The request target in origin form (`/path?query`), byte for byte as the client sent it. */
  target: string;
  /** The client's address as the proxy saw it; undefined when it did not say. */
  clientAddress: string | undefined;
  /**
   * ingress-nginx only: the origin of X-Original-URL (`https://host[:port]`), the site the client
   * asked for; a string, made a URL only when the CSRF check needs it.
   */
  origin: string | undefined;
}

/** What decides whether the ingress-nginx headers are read (`ingress.*`). */
export interface ContractSettings {
  enabled: boolean;
  proxies: TrustedProxies;
}

// Scheme, authority (host[:port] only: no userinfo, no backslash), then the raw request target.
const ORIGINAL_URL = /^(https?):\/\/([^/?#]*)(.*)$/i;
const AUTHORITY = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

function single(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Reads the original request from a decision subrequest's headers.
 *
 * X-Original-URL is believed only with `ingress.enabled` and from a sender in
 * `ingress.trustedProxies` (the TCP peer, `remoteAddress`). Whoever sent it, a subrequest whose
 * X-Original-URI and X-Original-URL name different targets is refused: one of them is the
 * client's, and choosing either would let the client pick the path that is decided while
 * another one is served (ingress-nginx passes a client's X-Original-URI on untouched).
 *
 * @throws {BadOriginalRequest} neither contract's headers are complete
 * @throws {ConflictingOriginalRequest} X-Original-URI and X-Original-URL disagree (or the latter is unreadable)
 * @throws {RejectedUri} a trusted X-Original-URL that is not an absolute http(s) URL with a plain host
 */
export function readOriginal(headers: IncomingHttpHeaders, remoteAddress: string | undefined, settings: ContractSettings): OriginalRequest {
  const method = single(headers['x-original-method']);
  const uri = single(headers['x-original-uri']);
  const url = single(headers['x-original-url']);
  const trusted = settings.enabled && settings.proxies.has(remoteAddress);
  if (url !== undefined && uri !== undefined) {
    const tail = targetOf(url);
    if (tail === undefined || tail !== uri)
      throw new ConflictingOriginalRequest({ detail: 'X-Original-URI and X-Original-URL name different requests' });
  }
  if (url !== undefined && trusted && method !== undefined) {
    const parsed = parseOriginalUrl(url);
    return { contract: 'ingress-nginx', method, target: parsed.target, clientAddress: ingressClient(headers), origin: parsed.origin };
  }
  if (method === undefined || uri === undefined) {
    throw new BadOriginalRequest('missing_original_request', {
      detail:
        url !== undefined && !trusted
          ? `X-Original-URL is read only with ingress.enabled and from ingress.trustedProxies (sender ${remoteAddress ?? 'unknown'})`
          : 'X-Original-Method and X-Original-URI are required (see nginx/snippets)',
    });
  }
  const address = single(headers['x-original-remote-addr']);
  return { contract: 'nginx', method, target: uri, clientAddress: address, origin: undefined };
}

/** The raw request target of an absolute http(s) URL; undefined when `url` is not one. */
function targetOf(url: string): string | undefined {
  const match = ORIGINAL_URL.exec(url);
  return match === null ? undefined : match[3];
}

/**
 * X-Original-URL, checked with the WHATWG URL parser (absolute, http or https, a host and no
 * user info), but the target kept as the raw bytes after the authority: the parser resolves
 * dot segments and rewrites `\` and some escapes, so its `pathname` is not what the upstream
 * receives (`$request_uri`); the raw target goes through the same normalisation as
 * X-Original-URI (request/normalize.ts), which refuses those instead.
 */
function parseOriginalUrl(url: string): { target: string; origin: string } {
  const match = VISIBLE_ASCII.test(url) ? ORIGINAL_URL.exec(url) : null;
  const parsed = match === null ? null : URL.parse(url);
  if (match === null || parsed === null) throw new RejectedUri({ detail: 'X-Original-URL is not an absolute http(s) URL' });
  const [, , authority, target] = match as unknown as [string, string, string, string];
  if (!AUTHORITY.test(authority) || parsed.username !== '' || parsed.password !== '' || parsed.host === '')
    throw new RejectedUri({ detail: 'X-Original-URL authority is not host[:port]' });
  if (!target.startsWith('/')) throw new RejectedUri({ detail: 'X-Original-URL has no path' });
  if (target.includes('#')) throw new RejectedUri({ detail: 'fragment in X-Original-URL' });
  return { target, origin: parsed.origin };
}

/**
 * The client's address under ingress-nginx: X-Real-IP, which the controller always sets to its
 * `$remote_addr` (the client, or the real-IP module's result when use-forwarded-headers is on);
 * else the LAST X-Forwarded-For entry, the one the controller appended. Earlier entries are
 * whatever the client wrote. Never X-Original-Remote-Addr, which only a client would send here.
 */
function ingressClient(headers: IncomingHttpHeaders): string | undefined {
  const real = single(headers['x-real-ip'])?.trim();
  if (real !== undefined && isIP(real) !== 0) return real;
  const chain = single(headers['x-forwarded-for']);
  const last = chain?.split(',').at(-1)?.trim();
  return last !== undefined && isIP(last) !== 0 ? last : undefined;
}
