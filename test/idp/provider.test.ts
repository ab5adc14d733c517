/**
 * src/idp/provider.ts against the fake IdP: discovery and the first key fetch make an issuer
 * ready; until then it retries with its backoff and says why it is not ready; its calls are
 * counted in the IdP metrics' outcome set; stop() ends the retries.
 */
import type { Config } from '../../src/config/schema.js';
import { StartupFailure } from '../../src/idp/diagnose.js';
import { IdentityProvider } from '../../src/idp/provider.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/ops/metrics.js';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { LogCapture, testConfig } from '../helpers/service.js';
import { fakeIdp } from '../helpers/test-service.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function providerFor(idp: Pick<FakeIdp, 'url'>, retryMs = 50) {
  const config = testConfig(idp as FakeIdp);
  const settings: Pick<Config, 'issuer' | 'client'> = { issuer: { ...config.issuer, discoveryRetryMs: retryMs }, client: config.client };
  const metrics = new Metrics({ defaultMetrics: false });
  const logs = new LogCapture();
  const provider = new IdentityProvider(settings, metrics, createLogger('debug', logs));
  return { provider, metrics, logs };
}

async function outcomes(metrics: Metrics): Promise<Record<string, number>> {
  const { values } = await metrics.idpRequests.get();
  return Object.fromEntries(values.map(({ labels, value }) => [`${labels.endpoint}/${labels.outcome}`, value]));
}

describe('IdentityProvider', () => {
  it('is ready once discovered with its keys: endpoints, key ids and configuration known, calls counted', async () => {
    const idp = await fakeIdp();
    const { provider, metrics, logs } = providerFor(idp);
    expect([provider.ready, provider.endpoints, provider.keys, provider.problem]).toEqual([false, undefined, undefined, undefined]);
    await provider.start();
    provider.stop();
    expect(provider.ready).toBe(true);
    expect(provider.endpoints).toEqual({
      issuer: idp.url,
      tokenEndpoint: `${idp.url}/protocol/openid-connect/token`,
      jwksUri: `${idp.url}/protocol/openid-connect/certs`,
      introspectionEndpoint: `${idp.url}/protocol/openid-connect/token/introspect`,
    });
    expect(provider.keyIds.length).toBeGreaterThan(0);
    expect(provider.configuration).toBeDefined();
    expect(await outcomes(metrics)).toEqual({ 'discovery/http_200': 1, 'jwks/http_200': 1 });
    expect((await metrics.jwksRefreshes.get()).values).toEqual([expect.objectContaining({ labels: { outcome: 'ok' }, value: 1 })]);
    expect(logs.lines.join('\n')).not.toContain('test-secret-do-not-log');
  });

  it('start() is idempotent: one discovery however often it is called', async () => {
    const idp = await fakeIdp();
    const { provider, metrics } = providerFor(idp);
    await Promise.all([provider.start(), provider.start()]);
    await provider.start();
    provider.stop();
    expect((await outcomes(metrics))['discovery/http_200']).toBe(1);
  });

  it('keys the IdP fails to serve: not ready, saying which URL answered what; retried until they come', async () => {
    const idp = await fakeIdp();
    idp.jwksAnswer = { status: 503, body: {} };
    const { provider, logs } = providerFor(idp);
    const started = provider.start();
    while (provider.problem === undefined) await sleep(10);
    expect(provider.ready).toBe(false);
    expect(provider.problem).toContain(`${idp.url}/protocol/openid-connect/certs`);
    expect(provider.problem).toContain('HTTP 503');
    expect(logs.records.some((line) => String(line.msg).startsWith('signing keys failed'))).toBe(true);
    idp.jwksAnswer = undefined;
    await started;
    provider.stop();
    expect(provider.ready).toBe(true);
    expect(provider.problem).toBeUndefined();
  });

  it('a key set that is not one: "not a JSON Web Key Set"', async () => {
    const idp = await fakeIdp();
    idp.jwksAnswer = { status: 200, body: { keys: 'none' } };
    const { provider } = providerFor(idp);
    const failure = (await provider.discoverOnce().catch((error: unknown) => error)) as StartupFailure;
    expect(failure).toBeInstanceOf(StartupFailure);
    expect(failure.diagnosis.outcome).toBe('not a JSON Web Key Set');
    expect(provider.ready).toBe(false);
  });

  it('nothing listening: discovery fails with the reason, counted as network_error; stop() ends the retries', async () => {
    const gone = await fakeIdp();
    const url = gone.url;
    await gone.stop();
    const { provider, metrics } = providerFor({ url }, 20);
    void provider.start();
    while (provider.problem === undefined) await sleep(10);
    expect(provider.problem).toMatch(/connection refused/);
    provider.stop();
    await sleep(50); // a retry already under way may still end
    const after = (await outcomes(metrics))['discovery/network_error'];
    expect(after).toBeGreaterThanOrEqual(1);
    await sleep(200);
    expect((await outcomes(metrics))['discovery/network_error']).toBe(after);
  });
});
