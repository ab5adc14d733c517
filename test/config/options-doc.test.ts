import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ENV_OVERRIDES, loadConfig } from '../../src/config/load.js';
import { optionRows, renderOptionsMarkdown, renderSampleConfig } from '../../src/config/options-doc.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string): string => readFileSync(`${ROOT}/${path}`, 'utf8');

describe('generated option reference', () => {
  it('docs/options.md is what `npm run docs:options` renders from the schema today', () => {
    expect(read('docs/options.md')).toBe(renderOptionsMarkdown());
  });

  it('docs/sample-config.yaml is up to date too', () => {
    expect(read('docs/sample-config.yaml')).toBe(renderSampleConfig());
  });

  it('lists every AUTHZ_* variable and every option, each with a meaning', () => {
    const rows = optionRows();
    expect(rows.length).toBeGreaterThan(70);
    const markdown = renderOptionsMarkdown(rows);
    for (const name of Object.keys(ENV_OVERRIDES)) expect(markdown).toContain(`\`${name}\``);
    for (const row of rows) expect(row.note.length).toBeGreaterThan(10);
    expect(rows.find((row) => row.path === 'issuer.allowInsecureHttp')).toMatchObject({
      env: ['AUTHZ_ALLOW_INSECURE_ISSUER'],
      default: false,
    });
  });

  it('the sample configuration loads through the real loader and gives the documented defaults', () => {
    const config = loadConfig({ AUTHZ_CONFIG: `${ROOT}/docs/sample-config.yaml` });
    expect(config.issuer?.url).toBe('http://127.0.0.1:8080/realms/mlflow');
    expect(config.client?.id).toBe('nginx-authz');
    expect(config.server).toMatchObject({ host: '127.0.0.1', port: 4180 });
    expect(config.basic).toMatchObject({ enabled: false, maxFailuresPerUser: 5 });
  });
});
