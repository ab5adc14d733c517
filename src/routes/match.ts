import type { MethodRule, ObjectRule, RouteEntry } from './table.js';

/** A route decision target: which resource and scope a request needs. */
export interface RouteMatch {
  /** The table path that matched, for logs. */
  pattern: string;
  public: boolean;
  /** Any verified identity passes (enforcement-mode AUTHENTICATED): no scope, no decision. */
  authenticated: boolean;
  /** Concrete resource name (templates filled from the path). */
  resource: string;
  /** The resource as written in the table (a bounded set: used for metric labels). */
  family: string;
  scope: string | undefined;
  params: Readonly<Record<string, string>>;
  /** The path segments the table's trailing `*` matched (empty otherwise). */
  rest: readonly string[];
  /** How the request names its experiment, if its route says so. */
  object: ObjectRule | undefined;
  /** Not in the table: the resource is still to be found in Keycloak (`routes.fromKeycloak`). */
  remote: boolean;
  /** The table asks for the S3 copy source to be decided too (`s3-copy-source`). */
  copySource?: true;
}

export type MatchOutcome = { kind: 'matched'; match: RouteMatch } | { kind: 'no_route' } | { kind: 'no_method'; pattern: string };

interface Node {
  literals: Map<string, Node>;
  param: Node | undefined;
  /** An entry ending in `*` here: matches zero or more further segments. */
  wildcard: RouteEntry | undefined;
  entry: RouteEntry | undefined;
}

const newNode = (): Node => ({ literals: new Map(), param: undefined, wildcard: undefined, entry: undefined });

/**
 * Matches normalised paths against the route table with a segment trie.
 *
 * Precedence, segment by segment from the left: a literal beats `{param}`, which beats `*`.
 * The most specific path decides alone: if it does not list the method, the request is
 * denied rather than handed to a less specific (possibly weaker) entry.
 */
export class RouteMatcher {
  private readonly root = newNode();

  constructor(entries: RouteEntry[]) {
    for (const entry of entries) this.insert(entry);
  }

  private insert(entry: RouteEntry): void {
    let node = this.root;
    for (const segment of entry.segments) {
      if (segment.kind === 'wildcard') {
        node.wildcard = entry;
        return;
      }
      if (segment.kind === 'param') {
        node.param ??= newNode();
        node = node.param;
      } else {
        let next = node.literals.get(segment.value);
        if (next === undefined) {
          next = newNode();
          node.literals.set(segment.value, next);
        }
        node = next;
      }
    }
    node.entry = entry;
  }

  /** @param method upper-case method; HEAD falls back to GET's rule when not listed. */
  match(method: string, path: string): MatchOutcome {
    const segments = path === '/' ? [] : path.slice(1).split('/');
    const values: string[] = [];
    const entry = find(this.root, segments, 0, values);
    if (entry === undefined) return { kind: 'no_route' };
    const rule = entry.methods.get(method) ?? (method === 'HEAD' ? entry.methods.get('GET') : undefined);
    if (rule === undefined) return { kind: 'no_method', pattern: entry.pattern };
    const match = toMatch(entry, rule, values, segments);
    return match === undefined ? { kind: 'no_route' } : { kind: 'matched', match };
  }
}

function find(node: Node, segments: string[], index: number, values: string[]): RouteEntry | undefined {
  if (index === segments.length) return node.entry ?? node.wildcard;
  const segment = segments[index]!;
  const literal = node.literals.get(segment);
  if (literal !== undefined) {
    const found = find(literal, segments, index + 1, values);
    if (found !== undefined) return found;
  }
  if (node.param !== undefined) {
    values.push(segment);
    const found = find(node.param, segments, index + 1, values);
    if (found !== undefined) return found;
    values.pop();
  }
  return node.wildcard;
}

// Values that may be placed into a resource name: `#` would split Keycloak's resource#scope.
const SAFE_RESOURCE_VALUE = /^[A-Za-z0-9_.:@~-]+$/;
/** Keycloak stores resource names in 255 characters: a longer one names nothing there, and is refused unasked. */
export const MAX_RESOURCE_NAME_LENGTH = 255;

function toMatch(entry: RouteEntry, rule: MethodRule, values: string[], segments: string[]): RouteMatch | undefined {
  const params: Record<string, string> = {};
  let position = 0;
  for (const segment of entry.segments) {
    if (segment.kind === 'param') params[segment.name] = values[position++]!;
  }
  let resource = rule.resource;
  if (resource.includes('{')) {
    if (!values.every((value) => SAFE_RESOURCE_VALUE.test(value))) return undefined;
    resource = resource.replace(/\{([^}]+)\}/g, (_, name: string) => params[name] ?? '');
    if (resource.length > MAX_RESOURCE_NAME_LENGTH) return undefined;
  }
  const wildcard = entry.segments[entry.segments.length - 1]?.kind === 'wildcard';
  const rest = wildcard ? segments.slice(entry.segments.length - 1) : [];
  return {
    pattern: entry.pattern,
    public: rule.public,
    authenticated: rule.authenticated,
    resource,
    family: rule.resource,
    scope: rule.scope,
    params,
    rest,
    object: entry.object,
    remote: false,
    ...(entry.copySource ? { copySource: true as const } : {}),
  };
}
