/** The extractor the doc-examples e2e test relies on: which blocks it finds, what runs, what is skipped. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extractBlocks } from '../e2e/doc-blocks.js';

function blocksOf(markdown: string) {
  const dir = mkdtempSync(`${tmpdir()}/doc-blocks-`);
  writeFileSync(`${dir}/x.md`, markdown);
  return extractBlocks(dir, 'x.md');
}

describe('extractBlocks', () => {
  it('takes bash, sh, console, nginx, yaml and python blocks with their line, and counts plain fences as prose', () => {
    const blocks = blocksOf(
      [
        '# t',
        '```bash',
        'echo a',
        '```',
        '```yaml',
        'a: 1',
        '```',
        '```',
        'art',
        '```',
        '```sh',
        'echo b',
        '```',
        '```nginx',
        'events {}',
        '```',
        '```python',
        'x',
        '```',
      ].join('\n'),
    );
    expect(blocks.map((block) => [block.line, block.lang, block.text])).toEqual([
      [2, 'bash', 'echo a'],
      [5, 'yaml', 'a: 1'],
      [8, 'prose', 'art'],
      [11, 'bash', 'echo b'],
      [14, 'nginx', 'events {}'],
      [17, 'python', 'x'],
    ]);
  });

  it('takes a yaml block as a whole config file, a part merged into a base at a key path, or a route table', () => {
    const blocks = blocksOf(
      [
        '```yaml',
        'a: 1',
        '```',
        '<!-- doc-test: yaml config in examples/idp/keycloak-claims.yaml at issuer -->',
        '```yaml',
        'policy: {}',
        '```',
        '<!-- doc-test: yaml config in examples/idp/auth0.yaml at . -->',
        '```yaml',
        'log: {}',
        '```',
        '<!-- doc-test: yaml routes -->',
        '```yaml',
        'paths: []',
        '```',
        '<!-- doc-test: yaml helm values -->',
        '```yaml',
        'replicaCount: 2',
        '```',
      ].join('\n'),
    );
    expect(blocks.map((block) => block.yaml)).toEqual([
      { kind: 'config' },
      { kind: 'config-part', base: 'examples/idp/keycloak-claims.yaml', at: ['issuer'] },
      { kind: 'config-part', base: 'examples/idp/auth0.yaml', at: [] },
      { kind: 'routes' },
      { kind: 'helm-values' },
    ]);
  });

  it('takes JSON as data, and tells Kubernetes manifests and annotations from configuration by their content', () => {
    const blocks = blocksOf(
      [
        '```json',
        '{"issuer": {"url": "https://idp.example"}}',
        '```',
        '```yaml',
        'apiVersion: v1',
        'kind: Service',
        '---',
        'apiVersion: v1',
        'kind: ConfigMap',
        '```',
        '```yaml',
        'nginx.ingress.kubernetes.io/auth-url: "http://x/auth"',
        '```',
        '```yaml',
        'apiVersion: v1',
        'issuer: {}',
        '```',
        '```text',
        'out',
        '```',
      ].join('\n'),
    );
    expect(blocks.map((block) => [block.lang, block.info, block.yaml?.kind])).toEqual([
      ['yaml', 'json', 'config'],
      ['yaml', 'yaml', 'kubernetes'],
      ['yaml', 'yaml', 'annotations'],
      ['yaml', 'yaml', 'config'],
      ['prose', 'text', undefined],
    ]);
  });

  it('takes a block another test checks, with that test', () => {
    const [block] = blocksOf(['<!-- doc-test: checked by test/x.test.ts -->', '```', 'ACL SETUSER x', '```'].join('\n'));
    expect([block!.lang, block!.checkedBy, block!.skip]).toEqual(['prose', 'test/x.test.ts', undefined]);
  });

  it('refuses a skip without a reason', () => {
    expect(() => blocksOf(['<!-- doc-test: skip -->', '```sh', 'down', '```'].join('\n'))).toThrow(/a doc-test skip needs a reason/);
  });

  it('refuses a doc-test comment it does not know instead of ignoring it', () => {
    expect(() => blocksOf(['<!-- doc-test: yaml cfg -->', '```yaml', 'a: 1', '```'].join('\n'))).toThrow(
      /unknown doc-test comment "yaml cfg"/,
    );
    expect(() => blocksOf(['<!-- doc-test: run twice -->', '```bash', 'echo', '```'].join('\n'))).toThrow(
      /unknown doc-test comment "run twice"/,
    );
  });

  it('runs only the $ lines of a console block, with their continuations', () => {
    const [block] = blocksOf(['```console', '$ curl -s \\', '    http://x', '{"output": 1}', '$ echo done', 'done', '```'].join('\n'));
    expect(block!.text).toBe('curl -s \\\n    http://x\necho done');
  });

  it('skips a block only when the marker is the line before its fence, and keeps the reason', () => {
    const blocks = blocksOf(
      [
        '<!-- doc-test: skip (stops the stack) -->',
        '',
        '```sh',
        'down',
        '```',
        '<!-- doc-test: skip (far away) -->',
        'text',
        '```sh',
        'up',
        '```',
      ].join('\n'),
    );
    expect(blocks.map((block) => block.skip)).toEqual(['stops the stack', undefined]);
  });

  it('strips the indentation of a block inside a list item', () => {
    const [block] = blocksOf(['- item', '  ```bash', '  echo a', '    echo b', '  ```'].join('\n'));
    expect(block!.text).toBe('echo a\n  echo b');
  });
});
