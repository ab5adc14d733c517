/**
 * One line for a unit test's service: `({ idp, service } = await testService({ env }))` in a
 * `beforeAll`, `beforeEach` or test starts a fake IdP, builds the service against it (discovery
 * done, logs captured), and stops both when they are no longer needed: after the test when it
 * was started for one (in `beforeEach` or the test itself), else after the file. Importing this
 * module registers those two hooks; nothing started through it outlives its test file.
 */
import type { Clock } from '../../src/clock.js';
import type { IssuerKinds } from '../../src/idp/kinds/index.js';
import { FakeIdp } from './fake-idp.js';
import { startService } from './service.js';

export type TestService = Awaited<ReturnType<typeof startService>>;

type Stoppable = { stop(): unknown };
interface Started {
  services: Stoppable[];
  idps: Stoppable[];
}
const perTest: Started = { services: [], idps: [] };
const perFile: Started = { services: [], idps: [] };

/** Services first (their retry timers), then the IdPs they talk to. */
async function stopAll(started: Started): Promise<void> {
  const { services, idps } = started;
  started.services = [];
  started.idps = [];
  for (const service of services) service.stop();
  await Promise.all(idps.map((idp) => idp.stop()));
}

// Root hooks: the root beforeEach runs before every other beforeEach of a test, the root
// afterEach after every other afterEach; a beforeAll runs outside both.
let inTest = false;
beforeEach(() => {
  inTest = true;
});
afterEach(async () => {
  inTest = false;
  await stopAll(perTest);
});
afterAll(() => stopAll(perFile));

/** Where a thing started now is stopped: after the current test, if one is running, else after the file. */
function scope(): Started {
  return inTest ? perTest : perFile;
}

/** A started fake IdP, stopped with the test (or file) that started it. */
export async function fakeIdp(): Promise<FakeIdp> {
  const idp = await new FakeIdp().start();
  scope().idps.push(idp);
  return idp;
}

export interface TestServiceOptions {
  /** The primary issuer; a new fake IdP (stopped with the service) unless given. */
  idp?: FakeIdp;
  /** AUTHZ_* variables over the test defaults (helpers/service.ts `testConfig`). */
  env?: Record<string, string>;
  clock?: Clock;
  /** Mode → IdP kind, for a test that adds a kind. */
  issuerKinds?: IssuerKinds;
}

/** A fake IdP (or `options.idp`) and a service against it, both stopped for you. */
export async function testService(options: TestServiceOptions = {}): Promise<{ idp: FakeIdp; service: TestService }> {
  const idp = options.idp ?? (await fakeIdp());
  const service = await startService(idp, options);
  scope().services.push(service);
  return { idp, service };
}
