/**
 * Facts the READMEs state about files of the repository, read from those files, so a changed script or
 * realm shows up as a failing test rather than as a README that quietly stopped being true
 * (issue 15: the stack README had omitted two logs, the Keycloak README two redirect URIs).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { ROOT } from '../deploy/tools.js';

const read = (path: string): string => readFileSync(`${ROOT}/${path}`, 'utf8');

describe('scripts/stack/README.md', () => {
  it('names every log file the stack writes under .stack/logs/', () => {
    const sources = [
      ...readdirSync(`${ROOT}/scripts/stack`)
        .filter((name) => name.endsWith('.sh'))
        .map((name) => `scripts/stack/${name}`),
      ...readdirSync(`${ROOT}/nginx`)
        .filter((name) => name.endsWith('.template'))
        .map((name) => `nginx/${name}`),
    ];
    const logs = new Set(
      sources.flatMap((path) => [...read(path).matchAll(/(?:\/logs|@@LOG_DIR@@)\/([a-z0-9-]+\.log)\b/g)].map((match) => match[1]!)),
    );
    expect(logs.size).toBeGreaterThanOrEqual(10);
    const readme = read('scripts/stack/README.md');
    expect([...logs].filter((log) => !readme.includes(`\`${log}\``) && !readme.includes(`logs/${log}\``))).toEqual([]);
  });
});

describe('keycloak/README.md', () => {
  it("lists every client's redirect URIs as keycloak/mlflow-realm.json has them", () => {
    const realm = JSON.parse(read('keycloak/mlflow-realm.json')) as { clients: { clientId: string; redirectUris?: string[] }[] };
    const readme = read('keycloak/README.md');
    const missing: string[] = [];
    for (const client of realm.clients.filter((c) => (c.redirectUris ?? []).length > 0)) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${client.clientId}\``));
      if (row === undefined) missing.push(`${client.clientId}: no row`);
      for (const uri of client.redirectUris!) if (!row?.includes(`\`${uri}\``)) missing.push(`${client.clientId}: ${uri}`);
    }
    expect(missing).toEqual([]);
  });
});

describe('the supported runtime', () => {
  it('the image, the pinned Node that CI runs and the README name the same Node major, inside what engines claims', () => {
    const pkg = JSON.parse(read('package.json')) as { engines: { node: string }; devDependencies: Record<string, string> };
    const pinned = Number(pkg.devDependencies.node!.split('.')[0]);
    const images = [...read('Dockerfile').matchAll(/^FROM node:(\d+)-/gm)].map((match) => Number(match[1]));
    expect(images.length).toBeGreaterThan(0);
    expect(new Set(images)).toEqual(new Set([pinned]));
    const [, min, max] = /^>=(\d+)\.\d+ <(\d+)$/.exec(pkg.engines.node) ?? [];
    expect(pinned).toBeGreaterThanOrEqual(Number(min));
    expect(pinned).toBeLessThan(Number(max));
    expect(read('README.md')).toContain(`Node ${pinned} LTS or ${pkg.engines.node.slice(2, -4)}+`);
  });
});
