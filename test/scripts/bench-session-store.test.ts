/**
 * `npm run bench:session-store` refuses to run unless the stack has two replicas. It must read that from the
 * variable scripts/stack/up.sh writes to .stack/env (it once read AUTHZ_REPLICAS after up.sh had renamed it
 * STACK_REPLICAS, and refused every stack).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error: plain JavaScript module of the bench, no types
import { needTwoReplicas, stackVars } from '../../scripts/bench/stack-vars.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('bench:session-store: the two-replica check', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bench-stack-'));
    writeFileSync(join(dir, 'ports.env'), 'AUTHZ_PORT=4180\nNGINX_LOAD_TEST_PORT=8081\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  // The line up.sh writes for the replica count, e.g. `echo "STACK_REPLICAS=$REPLICAS"`.
  const upSh = readFileSync(join(ROOT, 'scripts/stack/up.sh'), 'utf8');
  const written = /echo "([A-Z0-9_]+)=\$REPLICAS"/.exec(upSh)?.[1];

  it('reads the replica count under the name up.sh writes it', () => {
    expect(written).toBeDefined();
    writeFileSync(join(dir, 'env'), `MLFLOW_URL='http://127.0.0.1:8080'\n${written}=2\n`);
    const vars = stackVars(dir);
    expect(vars).toMatchObject({ MLFLOW_URL: 'http://127.0.0.1:8080', NGINX_LOAD_TEST_PORT: '8081' });
    expect(() => needTwoReplicas(vars)).not.toThrow();
  });

  it('refuses a one-replica stack, and one that does not say', () => {
    writeFileSync(join(dir, 'env'), `${written}=1\n`);
    expect(() => needTwoReplicas(stackVars(dir))).toThrow('needs the stack with two replicas');
    writeFileSync(join(dir, 'env'), 'AUTHZ_REPLICAS=2\n');
    expect(() => needTwoReplicas(stackVars(dir))).toThrow('needs the stack with two replicas');
  });
});
