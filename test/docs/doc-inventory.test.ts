/**
 * The inventory of every fenced block in the repository's Markdown: each is run or checked by a doc test,
 * skipped with a printed reason, or prose. Prints the counts and the list (this is the command that shows
 * them without a stack: `node --experimental-vm-modules node_modules/jest/bin/jest.js --runTestsByPath
 * test/docs/doc-inventory.test.ts`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { DOC_FILES, extractBlocks, handling, inventory } from '../e2e/doc-blocks.js';
import { ROOT } from '../deploy/tools.js';

const blocks = DOC_FILES.flatMap((file) => extractBlocks(ROOT, file));

afterAll(() => {
  console.log(inventory(blocks));
});

describe('the docs inventory', () => {
  it('covers the READMEs and every page of docs/', () => {
    expect(DOC_FILES).toEqual(expect.arrayContaining(['README.md', 'nginx/README.md', 'keycloak/README.md', 'scripts/stack/README.md']));
    expect(DOC_FILES).toEqual(
      expect.arrayContaining(['docs/clients.md', 'docs/ingress-nginx.md', 'docs/kubernetes.md', 'docs/options.md']),
    );
    expect(DOC_FILES.some((file) => file.startsWith('node_modules/') || file.startsWith('.'))).toBe(false);
  });

  it('finds blocks of every kind the doc tests run: shell, NGINX, Python, configuration, route table, Kubernetes', () => {
    const kinds = new Set(blocks.filter((block) => block.skip === undefined).map((block) => block.yaml?.kind ?? block.lang));
    for (const kind of ['bash', 'nginx', 'python', 'config-part', 'routes', 'kubernetes', 'annotations']) expect(kinds).toContain(kind);
  });

  it('a block marked "checked by" names a test that exists and reads that page', () => {
    const marked = blocks.filter((block) => block.checkedBy !== undefined);
    expect(marked.length).toBeGreaterThan(0);
    for (const block of marked) {
      const test = `${ROOT}/${block.checkedBy}`;
      expect([block.file, existsSync(test)]).toEqual([block.file, true]);
      expect(readFileSync(test, 'utf8')).toContain(block.file);
    }
  });

  it('says for every block how it is checked, and skips are the exception', () => {
    for (const block of blocks) expect(handling(block)).not.toBe('');
    const runnable = blocks.filter((block) => block.lang !== 'prose');
    const skipped = runnable.filter((block) => block.skip !== undefined);
    expect(skipped.length).toBeLessThan(runnable.length / 2);
  });
});
