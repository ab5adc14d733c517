import { readFileSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import { RouteMatcher } from './match.js';
import { combineTables, parseRouteTable, readPreset, RouteTableError, type RouteEntry } from './table.js';

/** Builds the matcher from the configured preset and file (the file's entries win). */
export function loadRoutes(routes: Config['routes']): { matcher: RouteMatcher; entries: RouteEntry[] } {
  const tables: RouteEntry[][] = [];
  if (routes.preset !== 'none') tables.push(parseRouteTable(readPreset(routes.preset), `preset ${routes.preset}`, routes.prefix));
  if (routes.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(routes.file, 'utf8');
    } catch (error) {
      throw new RouteTableError([`routes.file: cannot read ${JSON.stringify(routes.file)} (${(error as NodeJS.ErrnoException).code ?? 'error'})`]);
    }
    tables.push(parseRouteTable(text, routes.file, routes.prefix));
  }
  const entries = combineTables(tables);
  return { matcher: new RouteMatcher(entries), entries };
}
