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
  const site: Jar = new Map();
  const idp: Jar = new Map();
  const start = await fetch(`${stack.MLFLOW_URL}/oauth2/start?rd=%2F`, { redirect: 'manual' });
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
  const session = site.get('nginx_authz_session');
  if (done.status !== 302 || session === undefined || session === '') throw new Error(`callback: ${done.status}`);
  return `nginx_authz_session=${session}`;
}

/** One Prometheus sample of the service's /metrics (0 when absent). */
export async function metric(name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${stack.NGINX_AUTHZ_URL}/metrics`)).text();
  const line = text.split('\n').find((row) => row.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}
