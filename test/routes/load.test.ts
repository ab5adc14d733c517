/**
 * loadRoutes: one matcher per upstream NGINX fronts. MLflow's always; MinIO's only when a preset or a file describes
 * it (a service with no table would refuse everything, but `/auth/minio` must then be unknown, not mapped); an
 * unreadable table file stops the start and names the option that points at it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { routesSchema } from '../../src/config/sections/routes.js';
import { loadRoutes } from '../../src/routes/load.js';
import { RouteTableError } from '../../src/routes/table.js';

const routes = (over: Record<string, unknown> = {}) => routesSchema.parse(over);

describe('loadRoutes', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'routes-load-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds the MLflow matcher from the preset, and the MinIO one from its preset by default', () => {
    const matchers = loadRoutes(routes());
    expect([...matchers.keys()].sort()).toEqual(['minio', 'mlflow']);
    expect(matchers.get('mlflow')!.match('GET', '/api/2.0/mlflow/experiments/search').kind).toBe('matched');
  });

  it('has no MinIO matcher when its preset is none and no file is given', () => {
    expect([...loadRoutes(routes({ minio: { preset: 'none' } })).keys()]).toEqual(['mlflow']);
  });

  it('has a MinIO matcher from a file alone (preset none), with the file’s routes only', () => {
    const file = join(dir, 'minio.yaml');
    writeFileSync(file, 'paths:\n  - path: /models/*\n    name: bucket:models\n    methods:\n      - { method: GET, scopes: [read] }\n');
    const minio = loadRoutes(routes({ minio: { preset: 'none', file } })).get('minio');
    expect(minio).toBeDefined();
    expect(minio!.match('GET', '/models/a/b').kind).toBe('matched');
    expect(minio!.match('GET', '/other/a').kind).toBe('no_route');
  });

  it.each([
    ['routes.file', (file: string) => routes({ file })],
    ['routes.minio.file', (file: string) => routes({ minio: { file } })],
  ])('refuses an unreadable %s, naming the option, the file and the reason', (option, config) => {
    const missing = join(dir, 'missing.yaml');
    let thrown: unknown;
    try {
      loadRoutes(config(missing));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(RouteTableError);
    expect((thrown as RouteTableError).problems).toEqual([`${option}: cannot read ${JSON.stringify(missing)} (ENOENT)`]);
  });
});
