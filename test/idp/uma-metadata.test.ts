/**
 * src/idp/uma-metadata.ts: the issuer's UMA 2.0 metadata, fetched on first use, kept once had,
 * one fetch at a time, a failure not remembered; anything unusable fails closed (IdpUnavailable).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../../src/config/schema.js';
import { IdpUnavailable } from '../../src/errors.js';
import type { IdentityProvider } from '../../src/idp/provider.js';
import { UmaMetadata } from '../../src/idp/uma-metadata.js';
import { Metrics } from '../../src/ops/metrics.js';

const GOOD = { permission_endpoint: 'https://idp/permission', resource_registration_endpoint: 'https://idp/resource_set' };

let server: Server;
let issuer: string;
/** What the next metadata request is answered with. */
let answer: { status: number; body: string; delayMs?: number };
let requests = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url !== '/realms/x/.well-known/uma2-configuration') {
      res.writeHead(404).end();
      return;
    }
    requests++;
    const { status, body, delayMs = 0 } = answer;
    setTimeout(() => res.writeHead(status, { 'content-type': 'application/json' }).end(body), delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/realms/x`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  requests = 0;
  answer = { status: 200, body: JSON.stringify(GOOD) };
});

/** The metadata of an issuer discovered at `url` (undefined: not discovered yet). */
function metadataOf(url: string | undefined, timeoutMs = 1_000): { uma: UmaMetadata; metrics: Metrics } {
  const config = { issuer: { httpTimeoutMs: timeoutMs } } as Config;
  const provider = { endpoints: url === undefined ? undefined : { issuer: url } } as unknown as IdentityProvider;
  const metrics = new Metrics({ defaultMetrics: false });
  return { uma: new UmaMetadata(config, provider, metrics), metrics };
}

const failureOf = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error as IdpUnavailable,
  );

describe('UmaMetadata', () => {
  it('reads the two endpoints from <issuer>/.well-known/uma2-configuration, once, and keeps them', async () => {
    const { uma, metrics } = metadataOf(issuer);
    const expected = { permissionEndpoint: GOOD.permission_endpoint, resourceRegistrationEndpoint: GOOD.resource_registration_endpoint };
    await expect(uma.get()).resolves.toEqual(expected);
    answer = { status: 500, body: '' }; // kept: the issuer is not asked again
    await expect(uma.get()).resolves.toEqual(expected);
    expect(requests).toBe(1);
    const { values } = await metrics.idpRequests.get();
    expect(values.map(({ labels, value }) => [labels.endpoint, labels.outcome, value])).toEqual([['uma_discovery', 'http_200', 1]]);
  });

  it('callers arriving while the fetch is under way share it', async () => {
    answer.delayMs = 100;
    const { uma } = metadataOf(issuer);
    const [a, b, c] = await Promise.all([uma.get(), uma.get(), uma.get()]);
    expect(a).toBe(b);
    expect(b).toBe(c);
    expect(requests).toBe(1);
  });

  it('an issuer not discovered yet: IdpUnavailable without a call', async () => {
    const { uma } = metadataOf(undefined);
    const failure = await failureOf(uma.get());
    expect(failure).toBeInstanceOf(IdpUnavailable);
    expect(failure!.detail).toBe('issuer not discovered yet');
    expect(requests).toBe(0);
  });

  it('no usable metadata (an error status, a missing or non-string endpoint, not JSON): IdpUnavailable naming the status', async () => {
    const cases: [typeof answer, string][] = [
      [{ status: 404, body: JSON.stringify(GOOD) }, 'HTTP 404'],
      [{ status: 200, body: JSON.stringify({ permission_endpoint: GOOD.permission_endpoint }) }, 'HTTP 200'],
      [{ status: 200, body: JSON.stringify({ ...GOOD, resource_registration_endpoint: 7 }) }, 'HTTP 200'],
      [{ status: 200, body: '<html>' }, 'HTTP 200'],
    ];
    for (const [given, status] of cases) {
      answer = given;
      const failure = await failureOf(metadataOf(issuer).uma.get());
      expect(failure).toBeInstanceOf(IdpUnavailable);
      expect(failure!.detail).toBe(`uma_discovery: the issuer publishes no usable UMA 2.0 metadata (${status})`);
    }
  });

  it('a failure is not remembered: the next caller fetches again and succeeds', async () => {
    const { uma } = metadataOf(issuer);
    answer = { status: 503, body: '' };
    expect(await failureOf(uma.get())).toBeInstanceOf(IdpUnavailable);
    answer = { status: 200, body: JSON.stringify(GOOD) };
    await expect(uma.get()).resolves.toMatchObject({ permissionEndpoint: GOOD.permission_endpoint });
    expect(requests).toBe(2);
  });

  it('an issuer slower than issuer.httpTimeoutMs: IdpUnavailable (fail closed)', async () => {
    answer.delayMs = 500;
    const failure = await failureOf(metadataOf(issuer, 100).uma.get());
    expect(failure).toBeInstanceOf(IdpUnavailable);
    expect(failure!.detail).toBe('uma_discovery: no answer in 100 ms');
  });
});
