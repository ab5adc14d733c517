/**
 * The browser login flow with plain fetch (no browser): /oauth2/start through NGINX, Keycloak's
 * real login form, the callback; returns the session cookie. For tests that need a session fast.
 */
import { password, stack, type DemoUser } from './stack.js';

type Jar = Map<string, string>;

function keep(jar: Jar, response: Response): void {
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const eq = pair!.indexOf('=');
    jar.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
  }
}

const header = (jar: Jar): string =>
  [...jar]
    .filter(([, value]) => value !== '')
    .map(([name, value]) => `${name}=${value}`)
    .join('; ');

/** A login under way: the site's cookies (the pending-login cookie) and Keycloak's authorization URL. */
export interface StartedLogin {
  site: Jar;
  authorizationUrl: string;
  state: string;
}

/** `GET /oauth2/start` through NGINX, as a browser sends it. */
export async function startLogin(): Promise<StartedLogin> {
  const site: Jar = new Map();
  const start = await fetch(`${stack.MLFLOW_URL}/oauth2/start?rd=%2F`, { redirect: 'manual' });
  keep(site, start);
  const authorizationUrl = start.headers.get('location');
  if (start.status !== 302 || authorizationUrl === null) throw new Error(`/oauth2/start: ${start.status}`);
  return { site, authorizationUrl, state: new URL(authorizationUrl).searchParams.get('state')! };
}

/** The user signs in on Keycloak's real login form for `authorizationUrl`; the callback URL Keycloak redirects to (code and state). */
export async function signInAtKeycloak(authorizationUrl: string, user: DemoUser): Promise<string> {
  const idp: Jar = new Map();
  const form = await fetch(authorizationUrl, { redirect: 'manual' });
  keep(idp, form);
  const html = await form.text();
  const action = /<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"/.exec(html)?.[1]?.replace(/&amp;/g, '&');
  if (action === undefined) throw new Error(`no Keycloak login form (${form.status})`);
  const posted = await fetch(action, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: header(idp), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: user, password: password(user), credentialId: '' }),
  });
  const callback = posted.headers.get('location');
  if (posted.status !== 302 || callback === null || !callback.startsWith(`${stack.MLFLOW_URL}/oauth2/callback`))
    throw new Error(`login as ${user}: ${posted.status}`);
  return callback;
}

/** The browser following Keycloak's redirect to `callbackUrl` with `cookie`; the answer and the session cookie it set, if any. */
export async function finishLogin(callbackUrl: string, cookie: string): Promise<{ status: number; session: string | undefined }> {
  const done = await fetch(callbackUrl, { redirect: 'manual', headers: { cookie } });
  const set: Jar = new Map();
  keep(set, done);
  await done.arrayBuffer();
  const session = set.get('nginx_authz_session');
  return { status: done.status, session: session === undefined || session === '' ? undefined : `nginx_authz_session=${session}` };
}

/** The Cookie header for a jar. */
export const cookieHeader = header;

/** Signs `user` in through NGINX and Keycloak; the `nginx_authz_session=...` cookie pair. */
export async function sessionCookieFor(user: DemoUser): Promise<string> {
  const { site, authorizationUrl } = await startLogin();
  const done = await finishLogin(await signInAtKeycloak(authorizationUrl, user), header(site));
  if (done.status !== 302 || done.session === undefined) throw new Error(`callback: ${done.status}`);
  return done.session;
}

/**
 * Signs `user` in starting at `start` (a request target on the MLflow front, sent as is): the
 * session cookie pair and the Location the callback answered with (where the browser goes next).
 */
export async function signInThrough(user: DemoUser, start: string): Promise<{ cookie: string; location: string }> {
  const site: Jar = new Map();
  const started = await rawGet(`${stack.MLFLOW_URL}${start}`);
  keep(site, started);
  const authorizationUrl = started.headers.get('location');
  if (started.status !== 302 || authorizationUrl === null) throw new Error(`${start}: ${started.status}`);
  const callback = await signInAtKeycloak(authorizationUrl, user);
  const done = await fetch(callback, { redirect: 'manual', headers: { cookie: header(site) } });
  keep(site, done);
  await done.arrayBuffer();
  const cookie = site.get('nginx_authz_session');
  if (done.status !== 302 || cookie === undefined || cookie === '') throw new Error(`callback: ${done.status}`);
  return { cookie: `nginx_authz_session=${cookie}`, location: done.headers.get('location') ?? '' };
}

/**
 * GET with the request target exactly as written (fetch would resolve `/./` and `/../` first,
 * as a browser does; an attacker's client does not), no redirect followed, Set-Cookie kept.
 */
async function rawGet(url: string): Promise<Response> {
  const target = new URL(url);
  const path = url.slice(target.origin.length);
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request({ host: target.hostname, port: target.port, path, method: 'GET' }, (res) => {
      const headers = new Headers();
      for (let i = 0; i < res.rawHeaders.length; i += 2) headers.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
      res.resume();
      res.on('end', () => resolve(new Response(null, { status: res.statusCode!, headers })));
    });
    req.on('error', reject);
    req.end();
  });
}

/** One Prometheus sample of the service's /metrics (0 when absent). */
export async function metric(name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${stack.NGINX_AUTHZ_URL}/metrics`)).text();
  const line = text.split('\n').find((row) => row.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}
