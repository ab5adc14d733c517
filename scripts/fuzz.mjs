#!/usr/bin/env node
/**
 * Fuzzing of /auth (`npm run fuzz`): many malformed subrequests, shaped as NGINX can send them
 * (header values of any byte NGINX passes: tab, 0x20-0x7E, 0x80-0xFF; methods as NGINX parses
 * them), against the built service started as `npm start` starts it, beside a local issuer
 * (scripts/fuzz-lib.mjs) with login and Basic on. Varied: the original method and URI
 * (percent-encodings, double encodings, dot segments, slashes, `;`, `\`, overlong UTF-8, raw
 * non-ASCII bytes, absolute form, query decoys, over-long), header sizes, bearer tokens (valid,
 * forged, `alg: none`, truncated, huge), cookies, Basic values, forwarded headers. For a window
 * in the middle the issuer is down. With ingress.enabled, some subrequests describe the original
 * request as ingress-nginx does (X-Original-URL, alone or beside X-Original-URI, X-Real-IP).
 *
 * Checks: the process never dies and logs no unexpected error; every answer is 200, 401 or 403
 * (401 + X-Authz-Retry-After is NGINX's 429), 503 only while the issuer is down; the resident
 * size stays under FUZZ_RSS_LIMIT_MB.
 *
 * Options (env): FUZZ_REQUESTS (100000), FUZZ_PARALLEL (32), FUZZ_SEED (1), FUZZ_RSS_LIMIT_MB (200).
 * The seed makes a run repeatable: a failure prints the request that caused it.
 */
import { Agent, request as httpRequest } from 'node:http';
import { pathToFileURL } from 'node:url';
import { pool, prng, startIssuer, startService } from './fuzz-lib.mjs';

/** Pieces URIs are made of: MLflow's roots and routes, encodings, separators, traps. */
const ROOTS = [
  '/api/2.0/mlflow',
  '/ajax-api/2.0/mlflow',
  '/api/3.0/mlflow',
  '/ajax-api/3.0/mlflow',
  '/api/2.0/mlflow-artifacts',
  '/things',
  '',
  '/oauth2',
  '/static-files',
  '/gateway/proxy',
];
const WORDS = [
  'experiments',
  'get',
  'search',
  'runs',
  'artifacts',
  'list',
  'registered-models',
  'model-versions',
  'webhooks',
  'users',
  'mpu',
  'create',
  'presigned',
  'delete',
  'log-batch',
  'traces',
  '1',
  '5',
  '007',
  '99999999999999999999',
  'mlflow',
  'auth',
];
const TRAPS = [
  '.',
  '..',
  '%2e',
  '%2E%2e',
  '%252e%252e',
  '%2f',
  '%2F',
  '%252f',
  '%5c',
  '\\',
  ';',
  ';jsessionid=1',
  '%00',
  '%ff',
  '%c0%ae',
  '%c0%af',
  '%e0%80%ae',
  '%',
  '%g1',
  '%%',
  '..%2f',
  '%u002e',
  '\u00c3\u00a9',
  '\u00ff',
  '\u0080',
  '\u00e2\u0080\u00a8',
  '\uff0e',
  '\u2024',
  '~',
  '*',
  '{id}',
  '#frag',
  '?',
  '&',
  '=',
  '+',
  ' ',
  '\t',
];
const QUERIES = [
  'experiment_id=1',
  'experiment_id=1&experiment_id=2',
  'experiment_id=%31',
  'experiment_id=-1',
  'experiment_id=1e3',
  'path=1/x',
  'path=../2',
  'path=%2e%2e/2',
  'run_id=abc',
  'x=/api/2.0/mlflow/users/list',
  `experiment_id=${'9'.repeat(30)}`,
];
const METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
  'TRACE',
  'CONNECT',
  'PROPFIND',
  'MKCOL',
  'LOCK',
  'X',
  'GETT',
  'M-SEARCH',
  'BREW',
  'A_B',
];
const COOKIE_NAMES = ['nginx_authz_session', 'nginx_authz_login_x', 'a', '', '__Host-x', 'nginx_authz_session '];

/** A header value of arbitrary bytes NGINX passes on (as latin1: one char a byte). */
function bytes(r, length) {
  let out = '';
  for (let i = 0; i < length; i++) {
    const roll = r.int(10);
    out += roll < 7 ? String.fromCharCode(0x20 + r.int(0x5f)) : roll < 9 ? String.fromCharCode(0x80 + r.int(0x80)) : '\t';
  }
  return out;
}

/** Text with characters beyond latin1 as its UTF-8 bytes, one char a byte (as NGINX passes a raw URI on). */
const latin1 = (text) => (/[^\x00-\xff]/.test(text) ? Buffer.from(text, 'utf8').toString('latin1') : text);

const size = (r) => r.pick([0, 1, 3, 16, 64, 200, 1_000, 4_000, 8_000]);

function uri(r) {
  let path = r.chance(0.9) ? r.pick(ROOTS) : '';
  const segments = r.int(6);
  for (let i = 0; i < segments; i++) {
    const sep = r.chance(0.9) ? '/' : r.pick(['//', '\\', '/./', '/../', '%2f', '']);
    path += sep + (r.chance(0.6) ? r.pick(WORDS) : r.chance(0.7) ? r.pick(TRAPS) : bytes(r, 1 + r.int(12)).replace(/[\t ]/g, '_'));
  }
  if (r.chance(0.1)) path += '/';
  if (r.chance(0.05)) path = path.toUpperCase();
  if (r.chance(0.04)) path = `http://evil.example${path}`;
  if (r.chance(0.03)) path = `//evil.example${path}`;
  if (path === '' || (!path.startsWith('/') && r.chance(0.8))) path = `/${path}`;
  if (r.chance(0.3)) path += `?${r.pick(QUERIES)}${r.chance(0.2) ? `&${r.pick(QUERIES)}` : ''}`;
  if (r.chance(0.03)) path += 'x'.repeat(r.pick([1_000, 8_200, 9_000]));
  return path;
}

function method(r) {
  if (r.chance(0.9)) return r.pick(METHODS);
  let out = '';
  const length = 1 + r.int(20);
  for (let i = 0; i < length; i++) out += r.pick(['A', 'B', 'Z', '_', '-', 'G', 'E', 'T']);
  return out;
}

function base64(text) {
  return Buffer.from(text, 'latin1').toString('base64');
}

/** An Authorization header value, or undefined for none. */
function authorization(r, tokens) {
  switch (r.int(14)) {
    case 0:
      return undefined;
    case 1:
    case 2:
    case 3:
      return `Bearer ${r.pick(tokens.valid)}`;
    case 4:
      return `Bearer ${r.pick(tokens.forged)}`;
    case 5:
      return `Bearer ${bytes(r, size(r))}`;
    case 6:
      return `${r.pick(['bearer', 'BEARER', 'Bearer  ', 'Bearer\t', 'Token', 'Negotiate', 'Digest', ''])} ${r.pick(tokens.valid)}`;
    case 7:
      return `Basic ${base64(`${r.pick(['alice', 'carol', 'mallory', 'nobody', ''])}:${r.pick(['alice-pw', 'carol-pw', 'wrong', '', 'x'.repeat(500)])}`)}`;
    case 8:
      return `Basic ${base64(bytes(r, size(r)))}`;
    case 9:
      return `Basic ${bytes(r, size(r))}`;
    case 10:
      return `Basic ${r.pick(['', '=', '====', 'Og==', 'YTo=', 'OmI=', '!!!', base64('a:b:c'), base64('\u00ff:\u00fe')])}`;
    case 11:
      return `Bearer ${r.pick(tokens.valid)}, Basic ${base64('alice:alice-pw')}`;
    case 12:
      return 'Bearer';
    default:
      return `Bearer ${r.pick(tokens.valid).slice(0, r.int(400))}`;
  }
}

function cookie(r) {
  if (r.chance(0.6)) return undefined;
  const count = 1 + r.int(5);
  const parts = [];
  for (let i = 0; i < count; i++)
    parts.push(
      `${r.pick(COOKIE_NAMES)}=${r.chance(0.5) ? bytes(r, size(r)).replace(/[;\t]/g, '') : r.pick(['', 'eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..a.b.c', '"q"', '%00'])}`,
    );
  return parts.join(r.pick(['; ', ';', ' ; ']));
}

/** One subrequest as NGINX could send it. */
export function generate(r, tokens) {
  const headers = { 'x-original-method': method(r), 'x-original-uri': latin1(uri(r)) };
  const auth = authorization(r, tokens);
  if (auth !== undefined) headers.authorization = auth;
  const cookies = cookie(r);
  if (cookies !== undefined) headers.cookie = cookies;
  if (r.chance(0.3)) headers['x-forwarded-for'] = r.chance(0.5) ? `10.${r.int(256)}.0.${r.int(256)}, 127.0.0.1` : bytes(r, size(r));
  if (r.chance(0.2))
    headers['x-forwarded-host'] = r.chance(0.5) ? r.pick(['127.0.0.1:8080', 'evil.example', 'localhost', '']) : bytes(r, size(r));
  if (r.chance(0.2)) headers['x-forwarded-proto'] = r.pick(['http', 'https', 'gopher', '', bytes(r, 8)]);
  if (r.chance(0.5)) headers['x-original-remote-addr'] = r.chance(0.8) ? `10.1.${r.int(4)}.${r.int(256)}` : bytes(r, size(r));
  // ingress-nginx's description (ingress.enabled; the fuzzer's loopback address is a trusted proxy): the full URL
  // instead of X-Original-URI, or beside it (equal or not, then refused), or garbage; its client address header.
  if (r.chance(0.2)) {
    const scheme = r.pick(['http', 'https', 'HTTPS', 'ftp', 'javascript']);
    const host = r.pick(['mlflow.example.com', '127.0.0.1:8080', 'a@b', '[::1]', '', 'evil\\x', 'h:99999']);
    const url = r.chance(0.8) ? `${scheme}://${host}${headers['x-original-uri']}` : bytes(r, size(r));
    // Never blank (Node trims header values): a subrequest with no description at all is a deployment error (400).
    headers['x-original-url'] = url.trim() === '' ? '/' : url;
    if (r.chance(0.6)) delete headers['x-original-uri'];
    if (r.chance(0.5)) headers['x-real-ip'] = r.chance(0.8) ? `10.2.${r.int(4)}.${r.int(256)}` : bytes(r, size(r));
    headers['x-sent-from'] = 'nginx-ingress-controller';
  }
  // The retired table selector, as a client might still send it (refused, never read).
  if (r.chance(0.05)) headers['x-authz-service'] = r.pick(['mlflow', 'minio', bytes(r, 8)]);
  if (r.chance(0.05)) headers['x-amz-copy-source'] = r.pick(['/mlflow/a', 'mlflow-restricted/x', '%2e%2e/x', bytes(r, size(r))]);
  if (r.chance(0.2)) headers.accept = r.pick(['text/html', 'application/json', '*/*', bytes(r, size(r))]);
  if (r.chance(0.1)) headers['x-auth-request-user'] = 'alice';
  if (r.chance(0.05)) headers[`x-padding-${r.int(1000)}`] = bytes(r, 8_000);
  // The decision path names the route table (`/auth`, `/auth/minio`); anything else must be refused, never a 5xx.
  const path = r.chance(0.8)
    ? '/auth'
    : r.chance(0.6)
      ? '/auth/minio'
      : r.pick(['/auth/mlflow', '/auth/bogus', '/auth/', '/auth/minio/x', `/auth?${bytes(r, 10).replace(/[^\x21-\x7e]/g, 'x')}`]);
  return { method: r.chance(0.95) ? 'GET' : r.pick(['HEAD', 'POST']), path, headers };
}

/** Forged tokens: right shape, wrong in some way the verifier must catch. */
async function forgedTokens(issuer) {
  const valid = await issuer.token('alice');
  const [header, payload] = valid.split('.');
  const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
  const hs = `${Buffer.from(JSON.stringify({ alg: 'HS256', kid: 'fuzz' })).toString('base64url')}.${payload}.${'A'.repeat(43)}`;
  const swapped = `${header}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), preferred_username: 'root' })).toString('base64url')}.${valid.split('.')[2]}`;
  return [
    none,
    hs,
    swapped,
    `${valid}x`,
    valid.replace(/.$/, 'A'),
    await issuer.sign({ sub: 'x' }, -3_600),
    await issuer.sign({ sub: 'y', aud: 'someone-else' }),
    await issuer.sign({ sub: 'z', typ: 'Refresh' }),
    'a.b.c',
    '..',
    'e30.e30.',
    `${header}.${'A'.repeat(7_000)}.x`,
  ];
}

function send(agent, base, request) {
  return new Promise((resolve) => {
    const req = httpRequest(`${base}${request.path}`, { method: request.method, headers: request.headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, retryAfter: res.headers['x-authz-retry-after'] }));
    });
    req.setTimeout(15_000, () => req.destroy(new Error('timeout')));
    req.on('error', (error) => resolve({ status: `error:${error.code ?? error.message}` }));
    req.end();
  });
}

/**
 * @param {{ requests?: number, parallel?: number, seed?: number, rssLimitMb?: number, quiet?: boolean }} options
 * @returns {Promise<{ ok: boolean, failures: string[], summary: object }>}
 */
export async function runFuzz(options = {}) {
  const requests = options.requests ?? 100_000;
  const parallel = options.parallel ?? 32;
  const seed = options.seed ?? 1;
  const rssLimitMb = options.rssLimitMb ?? 200;
  const issuer = await startIssuer();
  const service = await startService(
    issuer.state.url,
    {
      AUTHZ_LOG_LEVEL: 'error',
      AUTHZ_BASIC_ENABLED: 'true',
      AUTHZ_BASIC_CLIENT_ID: 'mlflow-cli',
      AUTHZ_LOGIN_ENABLED: 'true',
      AUTHZ_UMA_PER_OBJECT: 'true',
      AUTHZ_ROUTES_FROM_KEYCLOAK: 'true',
      AUTHZ_INGRESS_ENABLED: 'true',
    },
    { captureStdout: true },
  );
  const tokens = {
    valid: [await issuer.token('alice'), await issuer.token('carol'), await issuer.token('mallory')],
    forged: await forgedTokens(issuer),
  };
  const agent = new Agent({ keepAlive: true, maxSockets: parallel });
  const r = prng(seed);
  const statuses = {};
  const failures = [];
  let rssMaxMb = service.rssMb() ?? 0;
  const sampler = setInterval(() => (rssMaxMb = Math.max(rssMaxMb, service.rssMb() ?? 0)), 100);
  // The issuer is down for the middle tenth of the run.
  const downFrom = Math.floor(requests * 0.45);
  const downTo = Math.floor(requests * 0.55);
  const started = Date.now();
  let done = 0;
  let transitions = 0;
  await pool(requests, parallel, async (i) => {
    if (!service.alive()) return;
    const request = generate(r, tokens);
    const downNow = done >= downFrom && done < downTo;
    if (downNow !== issuer.state.down) {
      issuer.state.down = downNow;
      transitions++;
    }
    const downAtStart = issuer.state.down;
    const transitionsAtStart = transitions;
    const { status, retryAfter } = await send(agent, service.base, request);
    // The issuer was down at some point while this request was in flight: 503 is an honest answer.
    const down = downAtStart || issuer.state.down || transitions !== transitionsAtStart;
    done++;
    const label = status === 401 && retryAfter !== undefined ? '429 (401 + X-Authz-Retry-After)' : String(status);
    statuses[label] = (statuses[label] ?? 0) + 1;
    const allowed = status === 200 || status === 401 || status === 403 || (status === 503 && down);
    if (!allowed && failures.length < 20)
      failures.push(`request ${i} (seed ${seed}) got ${status}${down ? ' (issuer down)' : ''}: ${JSON.stringify(request).slice(0, 600)}`);
    if (!options.quiet && done % 20_000 === 0) console.error(`fuzz: ${done}/${requests}, RSS ${Math.round(service.rssMb() ?? 0)} MB`);
  });
  clearInterval(sampler);
  issuer.state.down = false;
  const seconds = (Date.now() - started) / 1000;
  agent.destroy();
  const alive = service.alive();
  if (!alive) failures.push(`the service died (${service.exit.code ?? service.exit.signal}): ${service.stderr().slice(-500)}`);
  const unexpected = service.stdoutLines().filter((line) => line.includes('unexpected error'));
  if (unexpected.length > 0) failures.push(`${unexpected.length} unexpected error(s) logged, e.g. ${unexpected[0].slice(0, 500)}`);
  if (rssMaxMb > rssLimitMb) failures.push(`RSS reached ${Math.round(rssMaxMb)} MB (bound ${rssLimitMb} MB)`);
  const summary = {
    requests,
    parallel,
    seed,
    node_flags: service.flags.join(' '),
    seconds: Math.round(seconds * 10) / 10,
    requests_per_second: Math.round(requests / seconds),
    alive,
    rss_max_mb: Math.round(rssMaxMb),
    rss_limit_mb: rssLimitMb,
    issuer_down_for_requests: [downFrom, downTo],
    statuses,
  };
  await service.stop();
  await issuer.stop();
  return { ok: failures.length === 0, failures, summary };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { ok, failures, summary } = await runFuzz({
    requests: Number(process.env.FUZZ_REQUESTS ?? 100_000),
    parallel: Number(process.env.FUZZ_PARALLEL ?? 32),
    seed: Number(process.env.FUZZ_SEED ?? 1),
    rssLimitMb: Number(process.env.FUZZ_RSS_LIMIT_MB ?? 200),
  });
  console.log(JSON.stringify({ ...summary, failures }, null, 2));
  process.exit(ok ? 0 : 1);
}
