import { readFileSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import { RouteMatcher } from './match.js';
import { combineTables, parseRouteTable, readPreset, RouteTableError, type RouteEntry } from './table.js';

/** Which upstream NGINX is asking for: the decision path, `/auth` (MLflow) or `/auth/<name>`. */
export type ServiceName = 'mlflow' | 'minio';

/** One matcher per upstream service NGINX fronts. */
export function loadRoutes(routes: Config['routes']): Map<ServiceName, RouteMatcher> {
  const matchers = new Map<ServiceName, RouteMatcher>();
  matchers.set('mlflow', buildMatcher(routes.preset, routes.file, 'routes.file', routes.prefix));
  if (routes.minio.preset !== 'none' || routes.minio.file !== undefined) {
    matchers.set('minio', buildMatcher(routes.minio.preset, routes.minio.file, 'routes.minio.file', ''));
  }
  return matchers;
}

/** The preset (unless `none`) and the file on top (the file's entries win). */
function buildMatcher(preset: 'mlflow' | 'minio' | 'none', file: string | undefined, option: string, prefix: string): RouteMatcher {
  const tables: RouteEntry[][] = [];
  if (preset !== 'none') tables.push(parseRouteTable(readPreset(preset), `preset ${preset}`, prefix));
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new RouteTableError([`${option}: cannot read ${JSON.stringify(file)} (${(error as NodeJS.ErrnoException).code ?? 'error'})`]);
    }
    tables.push(parseRouteTable(text, file, prefix));
  }
  return new RouteMatcher(combineTables(tables));
}
