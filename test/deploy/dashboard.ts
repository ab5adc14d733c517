/** The Grafana dashboard's panels and PromQL, read from deploy/grafana/nginx-authz.json (unit and e2e tests). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Panel {
  type: string;
  title: string;
  targets?: { expr: string; refId: string }[];
}

/** Every query of every panel (rows have none), with its panel's title. */
export function dashboardQueries(): { title: string; expr: string }[] {
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/nginx-authz.json'), 'utf8')) as { panels: Panel[] };
  return dashboard.panels.filter((p) => p.type !== 'row').flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr })));
}
