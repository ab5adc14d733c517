/**
 * deploy/helm/nginx-authz keeps every secret the service reads out of the chart's values: each
 * secret option given in `config:` or as a plain `extraEnv` value fails the render, and each has a
 * way in from an existing Secret (a key of secrets.existingSecret, or extraVolumes for further
 * issuers' client secrets) that renders valid manifests the service's loader accepts.
 */
import { expectValid, loadRendered, one, render, template } from './chart.js';

const SECRET_VARIABLES = [
  'AUTHZ_CLIENT_SECRET',
  'AUTHZ_SESSION_SECRET',
  'AUTHZ_BASIC_CLIENT_SECRET',
  'AUTHZ_REDIS_URL',
  'AUTHZ_REDIS_PASSWORD',
];

describe('Helm chart: secrets never in values', () => {
  it('refuses the Basic client secret and further issuers’ client secrets in config:', () => {
    for (const [sets, message] of [
      [['config.basic.enabled=true', 'config.basic.clientSecret=oops'], 'config.basic.clientSecret'],
      [
        ['config.issuers[0].id=second', 'config.issuers[0].client.id=c', 'config.issuers[0].client.secret=oops'],
        'config.issuers[0].client.secret',
      ],
      [['config.issuers[0].id=a', 'config.issuers[1].id=b', 'config.issuers[1].client.secret=oops'], 'config.issuers[1].client.secret'],
    ] as const) {
      const { status, stderr } = template([...sets]);
      expect({ sets, status, stderr }).toEqual({ sets, status: 1, stderr: expect.stringContaining(message) });
    }
  });

  it.each(SECRET_VARIABLES)('refuses %s as a plain extraEnv value, and takes it from a secretKeyRef', (name) => {
    const plain = template([`extraEnv[0].name=${name}`, 'extraEnv[0].value=oops']);
    expect({ status: plain.status, stderr: plain.stderr }).toEqual({ status: 1, stderr: expect.stringContaining(`extraEnv ${name}`) });
    const fromSecret = render([
      `extraEnv[0].name=${name}`,
      'extraEnv[0].valueFrom.secretKeyRef.name=s',
      'extraEnv[0].valueFrom.secretKeyRef.key=k',
    ]);
    expect(one(fromSecret, 'Deployment').spec.template.spec.containers[0].env).toContainEqual({
      name,
      valueFrom: { secretKeyRef: { name: 's', key: 'k' } },
    });
  });

  it('a plain extraEnv value that is not a secret is kept', () => {
    const manifests = render(['extraEnv[0].name=AUTHZ_LOG_LEVEL', 'extraEnv[0].value=debug']);
    expect(one(manifests, 'Deployment').spec.template.spec.containers[0].env).toContainEqual({ name: 'AUTHZ_LOG_LEVEL', value: 'debug' });
  });

  it('secrets.basicClientSecretKey: the confidential Basic client’s secret from the existing Secret, read by the service', () => {
    const manifests = render([
      'config.basic.enabled=true',
      'config.basic.clientId=mlflow-cli-confidential',
      'secrets.existingSecret=nginx-authz',
      'secrets.basicClientSecretKey=basic-client-secret',
    ]);
    expect(one(manifests, 'Deployment').spec.template.spec.containers[0].env).toContainEqual({
      name: 'AUTHZ_BASIC_CLIENT_SECRET',
      valueFrom: { secretKeyRef: { name: 'nginx-authz', key: 'basic-client-secret' } },
    });
    expectValid(manifests);
    // loadRendered gives every variable read from a Secret the stand-in value "test-only".
    expect(loadRendered(manifests).basic).toMatchObject({ enabled: true, clientId: 'mlflow-cli-confidential', clientSecret: 'test-only' });
    const without = template(['secrets.basicClientSecretKey=basic-client-secret']);
    expect({ status: without.status, stderr: without.stderr }).toEqual({
      status: 1,
      stderr: expect.stringContaining('needs secrets.existingSecret'),
    });
    expect(JSON.stringify(render([]))).not.toContain('AUTHZ_BASIC_CLIENT_SECRET');
  });

  it('extraVolumes / extraVolumeMounts: a further issuer’s client secret mounted from a Secret, valid manifests', () => {
    const manifests = render([
      'config.issuers[0].id=second',
      'config.issuers[0].url=https://idp.example.com',
      'config.issuers[0].client.id=c',
      'config.issuers[0].client.secretFile=/etc/nginx-authz/issuers/second',
      'extraVolumes[0].name=issuers',
      'extraVolumes[0].secret.secretName=nginx-authz-issuers',
      'extraVolumeMounts[0].name=issuers',
      'extraVolumeMounts[0].mountPath=/etc/nginx-authz/issuers',
      'extraVolumeMounts[0].readOnly=true',
    ]);
    const spec = one(manifests, 'Deployment').spec.template.spec;
    expect(spec.volumes).toContainEqual({ name: 'issuers', secret: { secretName: 'nginx-authz-issuers' } });
    expect(spec.containers[0].volumeMounts).toContainEqual({ name: 'issuers', mountPath: '/etc/nginx-authz/issuers', readOnly: true });
    expectValid(manifests);
  });
});
