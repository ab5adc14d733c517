/**
 * deploy/helm/nginx-authz: the rendered objects find each other. The schemas cannot see this: a
 * Service whose selector matches no pod, a ServiceMonitor that selects no Service (it matches the
 * Service's own labels, not its selector), a PodDisruptionBudget or NetworkPolicy that guards no
 * pod, or a port name that no container declares are all valid manifests that do nothing.
 */
import { EXAMPLE, type Manifest, one, REPLICAS_3, render } from './chart.js';

/** What does not hold, in words: empty when every reference of the render resolves. */
function unresolved(manifests: Manifest[]): string[] {
  const problems: string[] = [];
  const subset = (what: string, wanted: Record<string, string> | undefined, labels: Record<string, string> | undefined): void => {
    const missing = Object.entries(wanted ?? {}).filter(([k, v]) => labels?.[k] !== v);
    if (wanted === undefined || Object.keys(wanted).length === 0 || missing.length > 0)
      problems.push(`${what}: ${JSON.stringify(missing)}`);
  };
  const deployment = one(manifests, 'Deployment');
  const pod = deployment.spec.template;
  const container = pod.spec.containers[0];
  const portNames = (container.ports as { name: string }[]).map((p) => p.name);
  const service = one(manifests, 'Service');
  subset('Deployment selector vs its pods', deployment.spec.selector.matchLabels, pod.metadata.labels);
  subset('Service selector vs the pods', service.spec.selector, pod.metadata.labels);
  for (const port of service.spec.ports as { targetPort: string }[])
    if (!portNames.includes(port.targetPort)) problems.push(`Service targetPort ${port.targetPort}`);
  for (const probe of ['readinessProbe', 'livenessProbe'])
    if (!portNames.includes(container[probe].httpGet.port)) problems.push(`${probe} port ${container[probe].httpGet.port}`);
  const configVolume = (pod.spec.volumes as Manifest[]).find((v) => v.name === 'config');
  if (configVolume?.configMap?.name !== one(manifests, 'ConfigMap').metadata.name) problems.push('config volume vs ConfigMap');
  for (const m of manifests) {
    if (m.kind === 'PodDisruptionBudget') subset('PodDisruptionBudget vs the pods', m.spec.selector.matchLabels, pod.metadata.labels);
    if (m.kind === 'NetworkPolicy') {
      subset('NetworkPolicy vs the pods', m.spec.podSelector.matchLabels, pod.metadata.labels);
      for (const rule of m.spec.ingress as Manifest[])
        for (const port of rule.ports as { port: string }[])
          if (!portNames.includes(port.port)) problems.push(`NetworkPolicy port ${port.port}`);
    }
    if (m.kind === 'ServiceMonitor') {
      subset('ServiceMonitor vs the Service’s labels', m.spec.selector.matchLabels, service.metadata.labels);
      if (!(m.spec.namespaceSelector?.matchNames ?? []).includes('mlflow')) problems.push('ServiceMonitor namespace');
      for (const endpoint of m.spec.endpoints as { port: string }[])
        if (!(service.spec.ports as { name: string }[]).some((p) => p.name === endpoint.port))
          problems.push(`ServiceMonitor port ${endpoint.port}`);
    }
    if (m.kind === 'Ingress')
      for (const path of m.spec.rules.flatMap((r: Manifest) => r.http.paths) as Manifest[]) {
        const backend = path.backend.service;
        const ports = service.spec.ports as { name: string; port: number }[];
        if (backend.name !== service.metadata.name || !ports.some((p) => p.port === backend.port.number || p.name === backend.port.name))
          problems.push(`Ingress backend ${backend.name}:${backend.port.number ?? backend.port.name}`);
      }
  }
  for (const constraint of (pod.spec.topologySpreadConstraints ?? []) as Manifest[])
    subset('topologySpreadConstraints vs the pods', constraint.labelSelector.matchLabels, pod.metadata.labels);
  return problems;
}

describe('Helm chart: the rendered objects reference each other', () => {
  it.each([
    ['default values', () => render([])],
    ['replicaCount=3 with Redis', () => render(REPLICAS_3)],
    ['ServiceMonitor on', () => render(['serviceMonitor.enabled=true'])],
    ['values-example.yaml', () => render([], [EXAMPLE])],
    ['values-example.yaml with fullnameOverride=authz', () => render(['fullnameOverride=authz'], [EXAMPLE])],
  ])('%s: every selector, port name and name resolves', (_, manifests) => {
    expect(unresolved(manifests())).toEqual([]);
  });

  it('the check finds a ServiceMonitor that selects no Service, a NetworkPolicy that guards no pod, a port name no container has', () => {
    const manifests = render(['serviceMonitor.enabled=true']);
    const service = one(manifests, 'Service');
    delete service.metadata.labels['app.kubernetes.io/name'];
    one(manifests, 'Deployment').spec.template.spec.containers[0].ports[0].name = 'web';
    one(manifests, 'NetworkPolicy').spec.podSelector.matchLabels['app.kubernetes.io/instance'] = 'other';
    expect(unresolved(manifests)).toEqual([
      'Service targetPort http',
      'readinessProbe port http',
      'livenessProbe port http',
      expect.stringMatching(/^NetworkPolicy vs the pods/),
      'NetworkPolicy port http',
      'NetworkPolicy port http',
      expect.stringMatching(/^ServiceMonitor vs the Service’s labels/),
    ]);
  });
});
