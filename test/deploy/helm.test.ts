/**
 * deploy/helm/nginx-authz: `helm lint --strict`, `helm template` with the default values, with three
 * replicas, with the ServiceMonitor on and with values-example.yaml; every rendered manifest
 * validated offline against the Kubernetes schemas (kubernetes-validate, strict) and the
 * ServiceMonitor against the prometheus-operator CRD's schema; the rendered configuration loaded
 * by the service's own loader; and the renders that must fail, failing.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import {
  CHART,
  EXAMPLE,
  expectValid,
  helm,
  kinds,
  loadRendered,
  type Manifest,
  one,
  REPLICAS_3,
  render,
  template,
  validate,
} from './chart.js';
import { run } from './tools.js';

describe('Helm chart deploy/helm/nginx-authz', () => {
  it('helm lint --strict passes with the default values and with values-example.yaml', () => {
    for (const args of [[CHART], [CHART, '-f', EXAMPLE]]) {
      const result = run(helm, ['lint', '--strict', ...args]);
      expect({ status: result.status, out: result.stdout }).toEqual({ status: 0, out: expect.stringContaining('0 chart(s) failed') });
    }
  });

  it('default values: hardened Deployment, Service, ConfigMap, PDB, NetworkPolicy; no Secret; all valid Kubernetes', () => {
    const manifests = render([]);
    expect(kinds(manifests)).toEqual(['ConfigMap', 'Deployment', 'NetworkPolicy', 'PodDisruptionBudget', 'Service', 'ServiceAccount']);
    const deployment = one(manifests, 'Deployment');
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    expect(deployment.spec.replicas).toBe(1);
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(container.resources.requests).toBeDefined();
    expect(container.resources.limits.memory).toBeDefined();
    expect(pod.volumes).toContainEqual({ name: 'tmp', emptyDir: { sizeLimit: '16Mi' } });
    expect(container.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
    expect(container.env).toEqual([{ name: 'AUTHZ_CONFIG', value: '/etc/nginx-authz/config.yaml' }]);
    const policy = one(manifests, 'NetworkPolicy');
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
    expect(policy.spec.ingress.map((rule: Manifest) => rule.from[0].namespaceSelector.matchLabels['kubernetes.io/metadata.name'])).toEqual([
      'ingress-nginx',
      'monitoring',
    ]);
    expect(one(manifests, 'Service').spec.ports).toEqual([{ name: 'http', port: 4180, targetPort: 'http', protocol: 'TCP' }]);
    const config = loadRendered(manifests);
    expect(config.server).toMatchObject({ host: '0.0.0.0', port: 4180 });
    expectValid(manifests);
  });

  it('replicaCount=3 without browser login needs nothing shared: three replicas, valid manifests', () => {
    const manifests = render(['replicaCount=3']);
    expect(one(manifests, 'Deployment').spec.replicas).toBe(3);
    expectValid(manifests);
  });

  it('replicaCount=3 with login: Redis URL and session secret from existing Secrets, never values', () => {
    const manifests = render(REPLICAS_3);
    const deployment = one(manifests, 'Deployment');
    expect(deployment.spec.replicas).toBe(3);
    const container = deployment.spec.template.spec.containers[0];
    expect(container.env).toContainEqual({
      name: 'AUTHZ_REDIS_URL',
      valueFrom: { secretKeyRef: { name: 'nginx-authz-redis', key: 'redis-url' } },
    });
    expect(deployment.spec.template.spec.volumes).toContainEqual({
      name: 'secrets',
      secret: {
        secretName: 'nginx-authz',
        defaultMode: 0o440,
        items: [
          { key: 'client-secret', path: 'client-secret' },
          { key: 'session-secret', path: 'session-secret' },
        ],
      },
    });
    const config = parse((one(manifests, 'ConfigMap').data as Record<string, string>)['config.yaml']!) as Manifest;
    expect(config.session).toEqual({ store: 'redis', secretFile: '/etc/nginx-authz/secrets/session-secret' });
    expect(config.client.secretFile).toBe('/etc/nginx-authz/secrets/client-secret');
    expect(one(manifests, 'PodDisruptionBudget').spec.maxUnavailable).toBe(1);
    expect(kinds(manifests)).not.toContain('Secret');
    expectValid(manifests);
    // What the service makes of it: three replicas on the Redis store, the URL from the Secret's variable.
    const loaded = loadRendered(manifests);
    expect(loaded.session.store).toBe('redis');
    expect(loaded.redis.url).toBe('redis://redis.test-only:6379');
    expect(loaded.login.enabled).toBe(true);
  });

  it('Redis over TLS: the CA and client certificate from an existing Secret, mounted read-only; the password from a Secret key', () => {
    const manifests = render([
      ...REPLICAS_3,
      'redis.passwordKey=redis-password',
      'redis.tls.existingSecret=redis-client-tls',
      'redis.tls.certKey=tls.crt',
      'redis.tls.keyKey=tls.key',
      'config.redis.username=authz-svc',
    ]);
    const spec = one(manifests, 'Deployment').spec.template.spec;
    const container = spec.containers[0];
    expect(container.env).toContainEqual({
      name: 'AUTHZ_REDIS_PASSWORD',
      valueFrom: { secretKeyRef: { name: 'nginx-authz-redis', key: 'redis-password' } },
    });
    expect(container.volumeMounts).toContainEqual({ name: 'redis-tls', mountPath: '/etc/nginx-authz/redis-tls', readOnly: true });
    expect(spec.volumes).toContainEqual({
      name: 'redis-tls',
      secret: {
        secretName: 'redis-client-tls',
        defaultMode: 0o440,
        items: [
          { key: 'ca.crt', path: 'ca.crt' },
          { key: 'tls.crt', path: 'tls.crt' },
          { key: 'tls.key', path: 'tls.key' },
        ],
      },
    });
    expectValid(manifests);
    // What the service makes of it: the files where the Secret is mounted, the user from config, the password from its variable.
    const loaded = loadRendered(manifests, 'rediss://redis.test-only:6380');
    expect(loaded.redis).toMatchObject({
      url: 'rediss://redis.test-only:6380',
      username: 'authz-svc',
      password: 'test-only',
      tlsCaFile: '/etc/nginx-authz/redis-tls/ca.crt',
      tlsCertFile: '/etc/nginx-authz/redis-tls/tls.crt',
      tlsKeyFile: '/etc/nginx-authz/redis-tls/tls.key',
    });
    // A CA alone (a server certificate from a private CA, no client certificate).
    const caOnly = render([...REPLICAS_3, 'redis.tls.existingSecret=redis-ca']);
    expect(one(caOnly, 'Deployment').spec.template.spec.volumes).toContainEqual({
      name: 'redis-tls',
      secret: { secretName: 'redis-ca', defaultMode: 0o440, items: [{ key: 'ca.crt', path: 'ca.crt' }] },
    });
    const caOnlyConfig = loadRendered(caOnly, 'rediss://redis.test-only:6380').redis;
    expect(caOnlyConfig.tlsCaFile).toBe('/etc/nginx-authz/redis-tls/ca.crt');
    expect(caOnlyConfig.tlsCertFile).toBeUndefined();
    // Without redis.tls nothing is mounted and no file is configured.
    const plain = render(REPLICAS_3);
    expect(one(plain, 'Deployment').spec.template.spec.volumes.map((v: { name: string }) => v.name)).not.toContain('redis-tls');
    expect(loadRendered(plain).redis.tlsCaFile).toBeUndefined();
  });

  it('serviceMonitor.enabled renders a ServiceMonitor valid against the prometheus-operator CRD', () => {
    const manifests = render(['serviceMonitor.enabled=true']);
    const monitor = one(manifests, 'ServiceMonitor');
    expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(monitor.spec.endpoints).toEqual([{ port: 'http', path: '/metrics', interval: '30s', scrapeTimeout: '10s' }]);
    expect(monitor.spec.selector.matchLabels).toEqual(one(manifests, 'Service').spec.selector);
    expectValid(manifests);
  });

  it('values-example.yaml (ingress-nginx + Keycloak + MLflow) renders valid manifests and a configuration the service loads', () => {
    const manifests = render([], [EXAMPLE]);
    expect(kinds(manifests)).toEqual([
      'ConfigMap',
      'Deployment',
      'Ingress',
      'NetworkPolicy',
      'PodDisruptionBudget',
      'Service',
      'ServiceAccount',
      'ServiceMonitor',
    ]);
    const ingress = one(manifests, 'Ingress');
    expect(ingress.spec.rules[0].http.paths.map((p: Manifest) => p.path)).toEqual(['/oauth2/']);
    const example = readFileSync(EXAMPLE, 'utf8');
    expect(example).toContain('nginx.ingress.kubernetes.io/auth-url: "http://nginx-authz.mlflow.svc.cluster.local:4180/auth"');
    expect(example).toContain('nginx.ingress.kubernetes.io/auth-signin: "https://mlflow.example.com/oauth2/start"');
    expectValid(manifests);
    // As rendered (several replicas on Redis) and with one replica on the memory store: what the service accepts.
    const config = loadRendered(manifests);
    expect(config.session.store).toBe('redis');
    expect(config.redis.url).toBe('redis://redis.test-only:6379');
    expect(config.login.enabled).toBe(true);
    expect(config.basic.enabled).toBe(true);
    expect(config.issuer.url).toBe('https://keycloak.example.com/realms/mlflow');
    // ingress-nginx's subrequests are read (X-Original-URL from the controller pods), and the public URL is the auth-signin's site.
    expect(config.ingress.enabled).toBe(true);
    expect(config.ingress.trustedProxies).toEqual(['10.244.0.0/16']);
    const signin = /nginx\.ingress\.kubernetes\.io\/auth-signin: "([^"]+)"/.exec(example)![1]!;
    expect(config.login.publicUrl).toBe(new URL(signin).origin);
    expect(ingress.spec.rules[0].host).toBe(new URL(signin).host);
    const withoutRedis = loadRendered(render(['replicaCount=1', 'redis.enabled=false'], [EXAMPLE]));
    expect(withoutRedis.session.store).toBe('memory');
    expect(withoutRedis.login.enabled).toBe(true);
  });

  it('refuses secrets as values and several replicas with login but no shared sessions', () => {
    for (const [sets, message] of [
      [['config.client.secret=oops'], 'config.client.secret'],
      [['config.session.secret=oops'], 'config.session.secret'],
      [['config.redis.url=redis://x'], 'config.redis.url'],
      [['replicaCount=3', 'config.login.enabled=true'], 'needs redis.enabled'],
      [['redis.enabled=true'], 'needs redis.existingSecret'],
      [['redis.enabled=true', 'redis.existingSecret=r'], 'needs secrets.sessionSecretKey'],
      [['config.redis.password=oops'], 'config.redis.password'],
      [['redis.tls.existingSecret=t', 'redis.tls.certKey=tls.crt'], 'go together'],
      [['redis.tls.existingSecret=t', 'redis.tls.caKey='], 'needs redis.tls.caKey'],
    ] as const) {
      const { status, stderr } = template([...sets]);
      expect({ sets, status, stderr }).toEqual({ sets, status: 1, stderr: expect.stringContaining(message) });
    }
  });

  it('the validators reject a broken manifest (so a pass means something)', () => {
    const manifests = render(['serviceMonitor.enabled=true']);
    const deployment = structuredClone(one(manifests, 'Deployment'));
    deployment.spec.replicas = 'three';
    deployment.spec.template.spec.containers[0].readinessProbe.httpGett = { path: '/readyz' };
    expect(validate([deployment]).status).toBe(1);
    const monitor = structuredClone(one(manifests, 'ServiceMonitor'));
    monitor.spec.endpoints = 'http';
    expect(validate([monitor]).status).toBe(1);
  });
});
