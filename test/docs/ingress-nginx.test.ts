/** docs/ingress-nginx.md's annotations say what the service and the e2e front actually use. */
import { readFileSync } from 'node:fs';
import { IDENTITY_HEADERS } from '../../src/auth/respond.js';
import { OPTION_NOTES } from '../../src/config/option-notes.js';

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const doc = read('docs/ingress-nginx.md');
const annotation = (name: string): string | undefined => new RegExp(`nginx\\.ingress\\.kubernetes\\.io/${name}: "([^"]*)"`).exec(doc)?.[1];

describe('docs/ingress-nginx.md', () => {
  it('lists every identity header the service answers with (the e2e front copies the same list)', () => {
    const listed = annotation('auth-response-headers')?.split(',');
    expect(listed).toEqual(Object.values(IDENTITY_HEADERS));
  });

  it("points auth-url at the service's MLflow decision path and auth-signin at /oauth2/start", () => {
    expect(new URL(annotation('auth-url')!).pathname).toBe('/auth');
    expect(new URL(annotation('auth-signin')!).pathname).toBe('/oauth2/start');
  });

  it('names the options it documents', () => {
    for (const option of ['ingress.enabled', 'ingress.trustedProxies']) expect(OPTION_NOTES[option]).toBeDefined();
    expect(doc).toContain('trustedProxies:');
  });
});

describe('the annotation set, wherever it is written', () => {
  const ANNOTATIONS = ['auth-url', 'auth-signin', 'auth-response-headers', 'proxy-body-size'];
  const line = (name: string): string => `nginx.ingress.kubernetes.io/${name}: "${annotation(name)}"`;

  it('docs/ingress-nginx.md gives all four', () => {
    for (const name of ANNOTATIONS) expect({ name, value: annotation(name) }).toEqual({ name, value: expect.any(String) });
  });

  it.each(['docs/kubernetes.md', 'deploy/helm/nginx-authz/values-example.yaml'])('%s says the same, line for line', (path) => {
    const text = read(path);
    for (const name of ANNOTATIONS) expect({ name, found: text.includes(line(name)) }).toEqual({ name, found: true });
  });

  it("the chart's NOTES print the same set for the release (service name, namespace and host filled in)", () => {
    const notes = read('deploy/helm/nginx-authz/templates/NOTES.txt');
    for (const name of ['auth-response-headers', 'proxy-body-size']) expect(notes).toContain(line(name));
    expect(notes).toContain('nginx.ingress.kubernetes.io/auth-url: "http://{{ include "nginx-authz.fullname" . }}.');
    expect(notes).toContain(':{{ .Values.service.port }}/auth"');
    expect(notes).toContain(
      'nginx.ingress.kubernetes.io/auth-signin: "https://{{ .Values.ingress.host | default "<mlflow-host>" }}/oauth2/start"',
    );
  });
});
