import type { ASYMMETRIC_ALGORITHMS, IssuerMode } from './issuer-schema.js';

// The shape of one trusted issuer as the service runs it, after src/config/normalize-issuers.ts has
// turned the `issuer:` shorthand and every `issuers:` entry into the same form. Kept apart from the
// zod schema (src/config/schema.ts) because these are what the code reads, not what a file may say.

/** A claim's path as segments: `realm_access.roles` → ["realm_access", "roles"]. */
export type ClaimPath = readonly string[];

/** One policy condition: the claim at `claim` holds at least one of `values`. */
export interface PolicyCondition {
  claim: ClaimPath;
  values: readonly string[];
}

/** What a `resource#scope` requires: every `allOf`, and one of `anyOf` when listed. */
export interface PolicyRequirement {
  anyOf: readonly PolicyCondition[] | undefined;
  allOf: readonly PolicyCondition[] | undefined;
}

/** Transport and verification options of one issuer, in the shape of the `issuer:` section. */
export interface IssuerOptions {
  url: string;
  allowInsecureHttp: boolean;
  audiences: readonly string[];
  algorithms: readonly (typeof ASYMMETRIC_ALGORITHMS)[number][];
  clockToleranceSeconds: number;
  challengeRealm: string;
  httpTimeoutMs: number;
  jwksCooldownMs: number;
  jwksCacheMaxAgeMs: number;
  discoveryRetryMs: number;
}

/** An issuer's OAuth client: its id, and its secret when it is confidential. */
export interface ClientSettings {
  id: string;
  secret: string | undefined;
}

/** One trusted issuer as the service runs it: the `issuer:` shorthand and `issuers:` entries alike. */
export interface IssuerSettings {
  /** `issuers[].id`; "primary" for the `issuer:` shorthand. */
  id: string;
  mode: IssuerMode;
  issuer: IssuerOptions;
  /** The issuer's client (UMA audience, introspection credentials); for claims-only issuers, a placeholder id with no secret. */
  client: ClientSettings;
  /** Where the identity headers' values are read. */
  claims: { username: ClaimPath; email: ClaimPath; groups: ClaimPath };
  /** `resource#scope` patterns → requirement (modes claims and introspection). */
  policy: ReadonlyMap<string, PolicyRequirement> | undefined;
  introspection: {
    endpoint: string | undefined;
    cacheMaxSeconds: number;
    negativeCacheSeconds: number;
    negativeMaxEntries: number;
    timeoutMs: number;
    opaqueTokens: boolean;
  };
}
