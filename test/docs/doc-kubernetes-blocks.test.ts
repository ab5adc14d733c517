/**
 * The Kubernetes blocks of the docs (test/e2e/doc-blocks.ts finds them by content): every manifest is
 * validated offline against the Kubernetes schemas by kubernetes-validate in strict mode (unknown
 * fields fail), as the Helm chart's renders are (test/deploy/helm.test.ts); a block of annotations must
 * be the annotations, with the same values, of a manifest block validated so; a block of Helm values
 * (`doc-test: yaml helm values`) names only values the chart has, renders, its manifests validate and
 * its configuration loads. So an Ingress copied from
 * the docs is one the API server accepts, and the annotation list shown twice cannot drift apart.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { run, toolPath } from '../deploy/tools.js';
import { DOC_FILES, type DocBlock, extractBlocks } from '../e2e/doc-blocks.js';
import { ROOT } from '../deploy/tools.js';

const K8S_VERSION = '1.33.0';
const CHART_VALUES: unknown = parse(readFileSync(join(ROOT, 'deploy/helm/nginx-authz/values.yaml'), 'utf8'));

/**
 * The key paths of `values` the chart's values.yaml does not have. Below `config` (the service's own configuration,
 * checked by its loader) and below an empty map or a list in values.yaml (free-form: annotations, env, tolerations)
 * anything goes.
 */
function unknownValues(values: unknown, known: unknown, path: string): string[] {
  if (values === null || typeof values !== 'object' || Array.isArray(values)) return [];
  if (path === 'config' || known === null || typeof known !== 'object' || Array.isArray(known) || Object.keys(known).length === 0)
    return [];
  return Object.entries(values).flatMap(([key, value]) => {
    const at = path === '' ? key : `${path}.${key}`;
    return key in known ? unknownValues(value, (known as Record<string, unknown>)[key], at) : [at];
  });
}
const validateVenv = toolPath('K8S_VALIDATE_VENV');
const blocks = DOC_FILES.flatMap((file) => extractBlocks(ROOT, file)).filter(
  (block) => block.skip === undefined && block.yaml !== undefined,
);
const manifests = blocks.filter((block) => block.yaml!.kind === 'kubernetes');
const annotationBlocks = blocks.filter((block) => block.yaml!.kind === 'annotations');
const valuesBlocks = blocks.filter((block) => block.yaml!.kind === 'helm-values');
const where = (block: DocBlock): string => `${block.file}:${block.line}`;

// biome-ignore lint/suspicious/noExplicitAny: manifests are free-form until the validator has looked at them.
type Manifest = Record<string, any>;
const documents = (text: string): Manifest[] =>
  parseAllDocuments(text)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((value): value is Manifest => value !== null);

/** kubernetes-validate --strict over each document of `text`: its exit status and what it printed. */
function validate(text: string): { status: number | null; output: string; passed: number } {
  const dir = mkdtempSync(join(tmpdir(), 'doc-k8s-'));
  try {
    const files = documents(text).map((manifest, i) => {
      const file = join(dir, `${i}.json`);
      writeFileSync(file, JSON.stringify(manifest));
      return file;
    });
    const result = run(join(validateVenv, 'bin/kubernetes-validate'), ['--strict', '--kubernetes-version', K8S_VERSION, ...files]);
    const output = `${result.stdout}${result.stderr}`;
    return { status: result.status, output, passed: output.match(/passed for resource/g)?.length ?? 0 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the docs show Kubernetes manifests, an annotation list and Helm values', () => {
  expect(manifests.length).toBeGreaterThanOrEqual(2);
  expect(annotationBlocks.length).toBeGreaterThanOrEqual(1);
  expect(valuesBlocks.length).toBeGreaterThanOrEqual(1);
});

describe.each(manifests.map((block) => [where(block), block] as const))('kubernetes block %s', (_name, block) => {
  test('passes kubernetes-validate --strict, every document', () => {
    const result = validate(block.text);
    expect({ status: result.status, output: result.output }).toEqual({
      status: 0,
      output: expect.not.stringMatching(/error|invalid|fail/i),
    });
    expect(result.passed).toBe(documents(block.text).length);
  }, 60_000);

  test('would be rejected with a field that does not exist (the check can fail)', () => {
    const broken = documents(block.text).map((manifest) => ({ ...manifest, spec: { ...manifest.spec, docTestNoSuchField: 1 } }));
    const result = validate(broken.map((manifest) => JSON.stringify(manifest)).join('\n---\n'));
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/docTestNoSuchField/);
  }, 60_000);
});

describe.each(annotationBlocks.map((block) => [where(block), block] as const))('annotations block %s', (_name, block) => {
  test('are the annotations of a validated manifest block, value for value', () => {
    const shown = documents(block.text)[0]!;
    const candidates = manifests.flatMap((manifest) =>
      documents(manifest.text)
        .filter((doc) => doc.metadata?.annotations !== undefined)
        .map((doc) => ({
          from: `${where(manifest)} ${doc.kind} ${doc.metadata.name}`,
          annotations: doc.metadata.annotations as Record<string, string>,
        })),
    );
    const matching = candidates.filter((candidate) => Object.entries(shown).every(([key, value]) => candidate.annotations[key] === value));
    if (matching.length === 0) {
      throw new Error(
        `${where(block)}: no validated manifest of the docs carries these annotations with these values:\n${block.text}\n` +
          `candidates: ${candidates.map((candidate) => candidate.from).join(', ')}`,
      );
    }
    expect(matching.length).toBeGreaterThan(0);
  });
});

describe.each(valuesBlocks.map((block) => [where(block), block] as const))('helm values block %s', (_name, block) => {
  test('renders the chart, and every manifest it renders is valid', () => {
    const dir = mkdtempSync(join(tmpdir(), 'doc-helm-'));
    try {
      writeFileSync(join(dir, 'values.yaml'), block.text);
      const rendered = run(toolPath('HELM_BIN'), [
        'template',
        'nginx-authz',
        join(ROOT, 'deploy/helm/nginx-authz'),
        '-n',
        'mlflow',
        '-f',
        join(dir, 'values.yaml'),
      ]);
      expect({ status: rendered.status, stderr: rendered.stderr }).toEqual({ status: 0, stderr: '' });
      // The ServiceMonitor is a CRD kubernetes-validate does not know: test/deploy/helm.test.ts checks it against its schema.
      const manifests = documents(rendered.stdout).filter((manifest) => manifest.kind !== 'ServiceMonitor');
      const result = validate(manifests.map((manifest) => JSON.stringify(manifest)).join('\n---\n'));
      expect({ status: result.status, output: result.output }).toEqual({
        status: 0,
        output: expect.not.stringMatching(/error|invalid|fail/i),
      });
      expect(result.passed).toBe(manifests.length);
      // The configuration a pod would read, by the service's loader (secret files stood in for, as the chart's test does).
      const configMap = manifests.find((manifest) => manifest.kind === 'ConfigMap')!;
      const text = (configMap.data as Record<string, string>)['config.yaml']!.replaceAll('/etc/nginx-authz/secrets', dir);
      for (const name of ['client-secret', 'session-secret'])
        writeFileSync(join(dir, name), 'doc-test-secret-value-for-tests-only-0123456789\n');
      writeFileSync(join(dir, 'config.yaml'), text);
      loadConfig({ AUTHZ_CONFIG: join(dir, 'config.yaml') });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  test('names only values the chart has (Helm itself ignores a misspelt key)', () => {
    expect(unknownValues(parse(block.text), CHART_VALUES, '')).toEqual([]);
  });
});

test('the values check can fail: a misspelt key is found', () => {
  expect(unknownValues({ secrets: { existingSecrets: 'x' }, config: { anything: 1 } }, CHART_VALUES, '')).toEqual([
    'secrets.existingSecrets',
  ]);
});
