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

const header = (jar: Jar): string => [...jar].filter(([, value]) => value !== '').map(([name, value]) => `${name}=${value}`).join('; ');

/** Signs `user` in through NGINX and Keycloak; the `nginx_authz_session=...` cookie pair. */
export async function sessionCookieFor(user: DemoUser): Promise<string> {
  return (await signInThrough(user, '/oauth2/start?rd=%2F')).cookie;
}

/**
 * Signs `user` in starting at `start` (a request target on the MLflow front, sent as is): the
 * session cookie pair and the Location the callback answered with (where the browser goes next).
 */
export async function signInThrough(user: DemoUser, start: string): Promise<{ cookie: string; location: string }> {
  const { status, location, cookie } = await loginFrom(user, start);
  if (status !== 302 || cookie === undefined || cookie === '') throw new Error(`callback: ${status}`);
  return { cookie: `nginx_authz_session=${cookie}`, location };
}

async function loginFrom(user: DemoUser, startTarget: string): Promise<{ status: number; location: string; cookie: string | undefined }> {
  const site: Jar = new Map();
  const idp: Jar = new Map();
  const start = await rawGet(`${stack.MLFLOW_URL}${startTarget}`);
  keep(site, start);
  const form = await fetch(start.headers.get('location')!, { redirect: 'manual' });
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
  if (posted.status !== 302 || callback === null || !callback.startsWith(`${stack.MLFLOW_URL}/oauth2/callback`)) throw new Error(`login as ${user}: ${posted.status}`);
  const done = await fetch(callback, { redirect: 'manual', headers: { cookie: header(site) } });
  keep(site, done);
  return { status: done.status, location: done.headers.get('location') ?? '', cookie: site.get('nginx_authz_session') };
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
