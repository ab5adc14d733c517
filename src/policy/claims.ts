import type { ClaimPath, PolicyCondition, PolicyRequirement } from '../config/schema.js';

/**
 * The values of the claims a policy reads, by claim path key ({@link pathKey}): only these are
 * kept on a cached identity, never the claims object (full claims are never held or logged: they can carry personal data).
 */
export type ClaimValues = ReadonlyMap<string, readonly string[]>;

/** The map key of a claim path: its segments joined by NUL (which no JSON claim name needs). */
export function pathKey(path: ClaimPath): string {
  return path.join('\u0000');
}

/**
 * The values at `path` in a token's claims (or an introspection answer), as strings:
 * - an array gives its string, number and boolean elements;
 * - a string is one value, except a final `scope` or `scp` segment, which is split at spaces
 *   (RFC 6749 §3.3 and RFC 9068 §2.2.3 define scope as a space-separated list; Entra and Okta
 *   send `scp` as a string or an array);
 * - a number or boolean is its text (`email_verified: true` → "true");
 * - an object, null, or a missing segment gives nothing: an absent claim matches no condition.
 */
export function readClaim(claims: Readonly<Record<string, unknown>>, path: ClaimPath): string[] {
  let node: unknown = claims;
  for (const segment of path) {
    if (typeof node !== 'object' || node === null || Array.isArray(node) || !Object.hasOwn(node, segment)) return [];
    node = (node as Record<string, unknown>)[segment];
  }
  const last = path[path.length - 1];
  if (typeof node === 'string') return last === 'scope' || last === 'scp' ? node.split(/\s+/).filter((value) => value !== '') : [node];
  if (typeof node === 'number' || typeof node === 'boolean') return [String(node)];
  if (!Array.isArray(node)) return [];
  const values: string[] = [];
  for (const item of node) if (typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean') values.push(String(item));
  return values;
}

interface CompiledCondition {
  key: string;
  values: ReadonlySet<string>;
}

interface CompiledRequirement {
  anyOf: readonly CompiledCondition[] | undefined;
  allOf: readonly CompiledCondition[] | undefined;
}

/** Why a claims decision came out as it did, for the audit log (no claim values). */
export type PolicyOutcome = 'allowed' | 'no_rule' | 'requirement_not_met';

/**
 * A claims policy (modes `claims` and `introspection`): the route's `resource#scope` → the
 * claims it requires. Decided locally from the values kept on the identity, with no IdP call.
 *
 * The most specific rule decides alone, in this order: `resource#scope`, `family#scope` (the
 * resource as written in the route table, e.g. `bucket:{bucket}`), `resource#*`, `family#*`,
 * `*#scope`, `*#*`. No rule → deny; an absent claim satisfies no condition → deny.
 */
export class ClaimsPolicy {
  private readonly rules = new Map<string, CompiledRequirement>();
  /** Every claim path a rule reads: what an identity of this issuer must carry. */
  readonly paths: readonly ClaimPath[];

  constructor(rules: ReadonlyMap<string, PolicyRequirement>) {
    const paths = new Map<string, ClaimPath>();
    const compile = (conditions: readonly PolicyCondition[] | undefined): CompiledCondition[] | undefined =>
      conditions?.map((condition) => {
        const key = pathKey(condition.claim);
        paths.set(key, condition.claim);
        return { key, values: new Set(condition.values) };
      });
    for (const [pattern, requirement] of rules)
      this.rules.set(pattern, { anyOf: compile(requirement.anyOf), allOf: compile(requirement.allOf) });
    this.paths = [...paths.values()];
  }

  /** The values this policy reads, out of a verified token's claims (or an introspection answer). */
  extract(claims: Readonly<Record<string, unknown>>): ClaimValues {
    const values = new Map<string, readonly string[]>();
    for (const path of this.paths) {
      const found = readClaim(claims, path);
      if (found.length > 0) values.set(pathKey(path), found);
    }
    return values;
  }

  /** Whether the values allow `scope` on `resource` (of route-table family `family`). */
  decide(values: ClaimValues, resource: string, family: string, scope: string): PolicyOutcome {
    const requirement =
      this.rules.get(`${resource}#${scope}`) ??
      this.rules.get(`${family}#${scope}`) ??
      this.rules.get(`${resource}#*`) ??
      this.rules.get(`${family}#*`) ??
      this.rules.get(`*#${scope}`) ??
      this.rules.get('*#*');
    if (requirement === undefined) return 'no_rule';
    const holds = (condition: CompiledCondition): boolean =>
      values.get(condition.key)?.some((value) => condition.values.has(value)) === true;
    if (requirement.allOf !== undefined && !requirement.allOf.every(holds)) return 'requirement_not_met';
    if (requirement.anyOf !== undefined && !requirement.anyOf.some(holds)) return 'requirement_not_met';
    return 'allowed';
  }
}
