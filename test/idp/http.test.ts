/**
 * src/idp/http.ts, the one way the service calls its IdP: one timeout over the whole exchange
 * (headers and body), outcomes counted in one label set, network failures and timeouts turned
 * into IdpUnavailable (503, fail closed), HTTP statuses handed to the caller.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { IdpUnavailable } from '../../src/errors.js';
import { idpFetch, readJson, readJsonValue } from '../../src/idp/http.js';
import { Metrics } from '../../src/ops/metrics.js';

let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    switch (req.url) {
      case '/json':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"a":1}');
        return;
      case '/list':
        res.writeHead(200, { 'content-type': 'application/json' }).end('[1,2]');
        return;
      case '/number':
        res.writeHead(200, { 'content-type': 'application/json' }).end('42');
        return;
      case '/html':
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html>');
        return;
      case '/missing':
        res.writeHead(404).end();
        return;
      case '/broken':
        res.writeHead(502).end();
        return;
      case '/moved':
        res.writeHead(302, { location: '/json' }).end();
        return;
      case '/silent':
        return; // never answers
      case '/half':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"a":'); // headers, then a body that never ends
        return;
      default:
        res.writeHead(500).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** The `authz_idp_requests_total` series of a registry, as `endpoint/outcome=count`. */
async function outcomes(metrics: Metrics): Promise<string[]> {
  const { values } = await metrics.idpRequests.get();
  return values.map(({ labels, value }) => `${labels.endpoint}/${labels.outcome}=${value}`).sort();
}

const call = (metrics: Metrics, path: string, timeoutMs = 2_000) =>
  idpFetch(metrics, 'uma_decision', `${base}${path}`, { headers: { accept: 'application/json' } }, timeoutMs);

describe('idpFetch', () => {
  it('hands every status below 500 to the caller, counted as http_<status>; a redirect is not followed', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    expect((await call(metrics, '/json')).status).toBe(200);
    expect((await call(metrics, '/missing')).status).toBe(404);
    const moved = await call(metrics, '/moved');
    expect(moved.status).toBe(302);
    expect(await outcomes(metrics)).toEqual(['uma_decision/http_200=1', 'uma_decision/http_302=1', 'uma_decision/http_404=1']);
  });

  it('hands a 5xx to the caller too, counted as server_error (one label value, not one per status)', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    expect((await call(metrics, '/broken')).status).toBe(502);
    expect((await call(metrics, '/other')).status).toBe(500);
    expect(await outcomes(metrics)).toEqual(['uma_decision/server_error=2']);
  });

  it('an IdP that does not answer in time: IdpUnavailable naming the endpoint and the time, counted as timeout, after about the timeout', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const started = performance.now();
    const failure = await call(metrics, '/silent', 200).catch((error: unknown) => error);
    const waited = performance.now() - started;
    expect(failure).toBeInstanceOf(IdpUnavailable);
    expect((failure as IdpUnavailable).detail).toBe('uma_decision: no answer in 200 ms');
    expect(waited).toBeGreaterThanOrEqual(150);
    expect(waited).toBeLessThan(2_000);
    expect(await outcomes(metrics)).toEqual(['uma_decision/timeout=1']);
  });

  it('nothing listening: IdpUnavailable, counted as network_error', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const metrics = new Metrics({ defaultMetrics: false });
    const failure = await idpFetch(metrics, 'pat', `http://127.0.0.1:${port}/`, {}, 1_000).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(IdpUnavailable);
    expect((failure as IdpUnavailable).detail).toMatch(/^pat: /);
    expect(await outcomes(metrics)).toEqual(['pat/network_error=1']);
  });

  it('observes the latency of every call, answered or not, under its endpoint', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    await call(metrics, '/json');
    await call(metrics, '/silent', 100).catch(() => undefined);
    const { values } = await metrics.idpDuration.get();
    const count = values.find((value) => value.metricName === 'authz_idp_request_duration_seconds_count');
    expect(count).toMatchObject({ labels: { endpoint: 'uma_decision' }, value: 2 });
  });
});

describe('readJson / readJsonValue', () => {
  const metrics = new Metrics({ defaultMetrics: false });

  it('readJson gives a JSON object or list, and undefined for any other body', async () => {
    expect(await readJson(await call(metrics, '/json'), 'uma_decision')).toEqual({ a: 1 });
    expect(await readJson(await call(metrics, '/list'), 'uma_decision')).toEqual([1, 2]);
    expect(await readJson(await call(metrics, '/number'), 'uma_decision')).toBeUndefined();
    expect(await readJson(await call(metrics, '/html'), 'uma_decision')).toBeUndefined();
  });

  it('readJsonValue gives any JSON value, undefined for a body that is not JSON', async () => {
    expect(await readJsonValue(await call(metrics, '/number'), 'resource_set')).toBe(42);
    expect(await readJsonValue(await call(metrics, '/html'), 'resource_set')).toBeUndefined();
  });

  it('a body that does not arrive within the call’s timeout is IdpUnavailable (fail closed), not a missing answer', async () => {
    const started = performance.now();
    const response = await call(metrics, '/half', 300);
    expect(response.status).toBe(200);
    const failure = await readJson(response, 'introspection').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(IdpUnavailable);
    expect((failure as IdpUnavailable).detail).toBe('introspection: body timed out');
    expect(performance.now() - started).toBeLessThan(2_000);
    const value = await readJsonValue(await call(metrics, '/half', 200), 'resource_set').catch((error: unknown) => error);
    expect(value).toBeInstanceOf(IdpUnavailable);
  });
});
