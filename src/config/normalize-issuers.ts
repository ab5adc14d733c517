import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ISSUER_MODES, MODE_NEEDS, policySchema, type ClaimPathInput, type PolicyInput } from './issuer-schema.js';
import type { ClaimPath, ClientSettings, IssuerSettings, ParsedConfig, PolicyCondition, PolicyRequirement } from './schema.js';

type ParsedIssuer = NonNullable<ParsedConfig['issuer']>;
type ParsedEntry = ParsedConfig['issuers'][number];
type ParsedClient = NonNullable<ParsedConfig['client']>;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The placeholder client id of an issuer that needs no client (claims mode): discovery wants one. */
const NO_CLIENT = 'nginx-authz';

/** `"claims" or "introspection"`: the modes a policy is used by, for the message about an unused one. */
const POLICY_MODES = ISSUER_MODES.filter((mode) => MODE_NEEDS[mode].policy)
  .map((mode) => JSON.stringify(mode))
  .join(' or ');

/**
 * The `issuer:` shorthand and the `issuers:` list as one list, the primary first, with every
 * cross-option problem reported under the option's own path: a duplicate id or URL, a claims or
 * introspection issuer without a policy, a keycloak-uma or introspection issuer without the
 * client it needs, more than one issuer taking opaque tokens.
 */
export function normalizeIssuers(parsed: ParsedConfig, problems: string[]): IssuerSettings[] {
  const list: { path: string; clientPath: string; source: ParsedIssuer | ParsedEntry; id: string; client: ParsedClient | undefined }[] = [];
  if (parsed.issuer !== undefined)
    list.push({ path: 'issuer', clientPath: 'client', source: parsed.issuer, id: 'primary', client: parsed.client });
  for (const [index, entry] of parsed.issuers.entries()) {
    list.push({ path: `issuers.${index}`, clientPath: `issuers.${index}.client`, source: entry, id: entry.id, client: entry.client });
  }

  const seenIds = new Map<string, string>();
  const seenUrls = new Map<string, string>();
  const settings: IssuerSettings[] = [];
  for (const { path, clientPath, source, id, client } of list) {
    const url = source.url.replace(/\/+$/, '');
    const firstId = seenIds.get(id);
    if (firstId !== undefined) problems.push(`${path}.id: duplicate issuer id ${JSON.stringify(id)} (also ${firstId})`);
    else seenIds.set(id, path);
    const firstUrl = seenUrls.get(url);
    if (firstUrl !== undefined)
      problems.push(`${path}.url: duplicate issuer ${JSON.stringify(url)} (also ${firstUrl}): one entry per issuer`);
    else seenUrls.set(url, path);
    checkInsecure(path, source.url, source.allowInsecureHttp, problems);

    const resolvedClient = readClient(clientPath, client, problems);
    const needs = MODE_NEEDS[source.mode];
    if (needs.client?.needs === 'id' && resolvedClient === undefined)
      problems.push(`${clientPath}.id: required when ${path}.mode is "${source.mode}" (${needs.client.why})`);
    if (needs.client?.needs === 'secret' && resolvedClient?.secret === undefined && client?.secretFile === undefined)
      problems.push(`${clientPath}.secret: required when ${path}.mode is "${source.mode}" (${needs.client.why})`);
    if (needs.audiences && source.audiences.length === 0 && resolvedClient === undefined) {
      problems.push(`${path}.audiences: required when the issuer has no client (tokens must name this service in aud)`);
    }

    const policy = readPolicy(path, source, problems);
    if (needs.policy && policy === undefined && source.policy === undefined && source.policyFile === undefined) {
      problems.push(`${path}.policy: required when ${path}.mode is "${source.mode}" (or ${path}.policyFile)`);
    }
    if (!needs.policy && (source.policy !== undefined || source.policyFile !== undefined)) {
      problems.push(`${path}.policy: only used when ${path}.mode is ${POLICY_MODES} (mode is "${source.mode}")`);
    }

    const { mode, claims, introspection, policy: _p, policyFile: _f, ...options } = source;
    settings.push({
      id,
      mode,
      issuer: {
        ...options,
        url,
        audiences: options.audiences.length > 0 ? options.audiences : resolvedClient === undefined ? [] : [resolvedClient.id],
        challengeRealm: parsed.issuer?.challengeRealm ?? 'mlflow',
      },
      client: resolvedClient ?? { id: NO_CLIENT, secret: undefined },
      claims: { username: toPath(claims.username), email: toPath(claims.email), groups: toPath(claims.groups) },
      policy,
      introspection: { ...introspection, endpoint: introspection.endpoint },
    });
  }
  const opaque = list.filter((entry) => MODE_NEEDS[entry.source.mode].opaqueTokens && entry.source.introspection.opaqueTokens);
  if (opaque.length > 1) {
    problems.push(
      `${opaque[1]!.path}.introspection.opaqueTokens: only one issuer may take opaque tokens (also ${opaque[0]!.path}); set it false on all but one`,
    );
  }
  return settings;
}

/** `realm_access.roles` → ["realm_access", "roles"]; a list is taken as the segments already. */
export function toPath(input: ClaimPathInput): ClaimPath {
  return typeof input === 'string' ? input.split('.') : [...input];
}

function checkInsecure(path: string, url: string, allowed: boolean, problems: string[]): void {
  if (!URL.canParse(url)) return;
  const parsed = new URL(url);
  if (parsed.protocol === 'http:' && !LOOPBACK_HOSTS.has(parsed.hostname) && !allowed) {
    const env = path === 'issuer' ? ' / AUTHZ_ALLOW_INSECURE_ISSUER=true' : '';
    problems.push(
      `${path}.url: plain http is only accepted for loopback hosts; got ${JSON.stringify(url)} (use https, or set ${path}.allowInsecureHttp${env})`,
    );
  }
}

function readClient(path: string, client: ParsedClient | undefined, problems: string[]): ClientSettings | undefined {
  if (client === undefined) return undefined;
  let secret = client.secret;
  if (client.secretFile !== undefined) {
    if (secret !== undefined) {
      problems.push(`${path}.secretFile: set either ${path}.secret or ${path}.secretFile, not both`);
    } else {
      try {
        secret = readFileSync(client.secretFile, 'utf8').trim();
        if (secret === '') problems.push(`${path}.secretFile: ${JSON.stringify(client.secretFile)} is empty`);
      } catch (error) {
        problems.push(
          `${path}.secretFile: cannot read ${JSON.stringify(client.secretFile)} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
        );
      }
    }
  }
  return { id: client.id, secret };
}

/** The policy given inline or in `policyFile`, its claim paths resolved to segments. */
function readPolicy(
  path: string,
  source: ParsedIssuer | ParsedEntry,
  problems: string[],
): ReadonlyMap<string, PolicyRequirement> | undefined {
  let policy: PolicyInput | undefined = source.policy;
  if (source.policyFile !== undefined) {
    if (policy !== undefined) {
      problems.push(`${path}.policyFile: set either ${path}.policy or ${path}.policyFile, not both`);
      return undefined;
    }
    policy = readPolicyFile(`${path}.policyFile`, source.policyFile, problems);
  }
  if (policy === undefined) return undefined;
  const compile = (conditions: PolicyInput['rules'][string]['anyOf']): PolicyCondition[] | undefined =>
    conditions?.map((condition) => ({ claim: toPath(condition.claim), values: [...condition.values] }));
  return new Map(
    Object.entries(policy.rules).map(([key, requirement]) => [
      key,
      { anyOf: compile(requirement.anyOf), allOf: compile(requirement.allOf) },
    ]),
  );
}

function readPolicyFile(path: string, file: string, problems: string[]): PolicyInput | undefined {
  let value: unknown;
  try {
    value = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    problems.push(`${path}: cannot read ${JSON.stringify(file)} (${code ?? (error as Error).message.split('\n')[0]})`);
    return undefined;
  }
  const parsed = policySchema.safeParse(value, { reportInput: true });
  if (parsed.success) return parsed.data;
  problems.push(
    ...parsed.error.issues.map(
      (issue: z.core.$ZodIssue) => `${path} (${file}): ${issue.path.join('.') || '(top level)'}: ${issue.message}`,
    ),
  );
  return undefined;
}
