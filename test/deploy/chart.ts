/**
 * Rendering and validating deploy/helm/nginx-authz for the chart tests (helm.test.ts, helm-secrets.test.ts):
 * `helm template`, the offline validators (kubernetes-validate, strict; the ServiceMonitor by the
 * prometheus-operator CRD's schema) and the service's own loader over a render.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { ROOT, run, toolPath } from './tools.js';

export const CHART = join(ROOT, 'deploy/helm/nginx-authz');
export const EXAMPLE = join(CHART, 'values-example.yaml');
const K8S_VERSION = '1.33.0';
export const helm = toolPath('HELM_BIN');
const validateVenv = toolPath('K8S_VALIDATE_VENV');
const crds = toolPath('PROMETHEUS_OPERATOR_CRDS');

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are checked field by field below.
export type Manifest = Record<string, any>;

/** Several replicas with browser login: Redis and the shared session secret (the chart insists). */
export const REPLICAS_3 = [
  'replicaCount=3',
  'config.login.enabled=true',
  'secrets.existingSecret=nginx-authz',
  'secrets.sessionSecretKey=session-secret',
  'redis.enabled=true',
  'redis.existingSecret=nginx-authz-redis',
];

/** `helm template` of the chart with `--set` values and values files: its exit status, output and errors. */
export function template(sets: string[], valuesFiles: string[] = []): { status: number | null; text: string; stderr: string } {
  const args = [
    'template',
    'nginx-authz',
    CHART,
    '--namespace',
    'mlflow',
    ...valuesFiles.flatMap((f) => ['-f', f]),
    ...sets.flatMap((s) => ['--set', s]),
  ];
  const result = run(helm, args);
  return { status: result.status, text: result.stdout, stderr: result.stderr };
}

/** The manifests `helm template` renders (the render must succeed without a word on stderr). */
export function render(sets: string[], valuesFiles: string[] = []): Manifest[] {
  const { status, text, stderr } = template(sets, valuesFiles);
  expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

/** The kinds of the manifests, sorted. */
export const kinds = (manifests: Manifest[]): string[] => manifests.map((m) => m.kind as string).sort();
/** The only manifest of a kind (the test fails when there are none or several). */
export const one = (manifests: Manifest[], kind: string): Manifest => {
  const found = manifests.filter((m) => m.kind === kind);
  expect(found).toHaveLength(1);
  return found[0]!;
};

/** kubernetes-validate (strict: unknown fields fail) over the given manifests; the ServiceMonitor checked by the CRD schema. */
export function validate(manifests: Manifest[]): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'nginx-authz-helm-'));
  try {
    const files: string[] = [];
    manifests.forEach((manifest, i) => {
      const file = join(dir, `${i}-${manifest.kind}.json`);
      writeFileSync(file, JSON.stringify(manifest));
      if (manifest.kind !== 'ServiceMonitor') files.push(file);
    });
    const k8s = run(join(validateVenv, 'bin/kubernetes-validate'), ['--strict', '--kubernetes-version', K8S_VERSION, ...files]);
    const monitors = manifests.filter((m) => m.kind === 'ServiceMonitor');
    let crd = { status: 0 as number | null, stdout: '', stderr: '' };
    if (monitors.length > 0) {
      const script = [
        'import json, sys, yaml, jsonschema',
        'crd = yaml.safe_load(open(sys.argv[1]))',
        'version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")',
        'schema = version["schema"]["openAPIV3Schema"]',
        'errors = []',
        'for doc in json.load(sys.stdin):',
        '    errors += [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(doc)]',
        'print("\\n".join(errors) or "ServiceMonitor valid")',
        'sys.exit(1 if errors else 0)',
      ].join('\n');
      crd = run(join(validateVenv, 'bin/python'), ['-c', script, join(crds, 'monitoring.coreos.com_servicemonitors.yaml')], {
        input: JSON.stringify(monitors),
      });
    }
    return { status: k8s.status === 0 && crd.status === 0 ? 0 : 1, output: `${k8s.stdout}${k8s.stderr}${crd.stdout}${crd.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every manifest passes the validators, each named in their output. */
export function expectValid(manifests: Manifest[]): void {
  const { status, output } = validate(manifests);
  expect({ status, output }).toEqual({ status: 0, output: expect.not.stringMatching(/error|invalid|fail/i) });
  // One line per manifest checked (the ServiceMonitor's own line from the CRD check).
  expect(output.match(/(passed for resource|ServiceMonitor valid)/g)?.length).toBe(manifests.length);
}

/**
 * The service's own loader over the ConfigMap's config.yaml and the Deployment's environment, with stand-ins for the
 * mounted secret files and for the variables read from Secrets (a Redis URL for AUTHZ_REDIS_URL).
 */
export function loadRendered(manifests: Manifest[], redisUrl = 'redis://redis.test-only:6379'): ReturnType<typeof loadConfig> {
  const dir = mkdtempSync(join(tmpdir(), 'nginx-authz-helm-config-'));
  try {
    const text = (one(manifests, 'ConfigMap').data as Record<string, string>)['config.yaml']!.replaceAll('/etc/nginx-authz/secrets', dir);
    writeFileSync(join(dir, 'client-secret'), 'test-only-client-secret');
    writeFileSync(join(dir, 'session-secret'), 'test-only-session-secret-of-32-characters-at-least');
    writeFileSync(join(dir, 'config.yaml'), text);
    const env: Record<string, string> = {};
    for (const entry of one(manifests, 'Deployment').spec.template.spec.containers[0].env ?? []) {
      if (typeof entry.value === 'string') env[entry.name] = entry.value;
      else if (entry.valueFrom?.secretKeyRef) env[entry.name] = entry.name === 'AUTHZ_REDIS_URL' ? redisUrl : 'test-only';
    }
    return loadConfig({ ...env, AUTHZ_CONFIG: join(dir, 'config.yaml') });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
