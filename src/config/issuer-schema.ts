import { z } from 'zod';

/**
 * How the tokens of one issuer are decided (`issuer.mode`, `issuers[].mode`):
 * - `keycloak-uma`: Keycloak Authorization Services decide (UMA grant; the default, today's behaviour);
 * - `claims`: the verified JWT's claims, against the issuer's policy table, locally;
 * - `introspection`: the token is read through RFC 7662 introspection (opaque tokens), then the
 *   claims policy decides on the introspection answer.
 */
export const ISSUER_MODES = ['keycloak-uma', 'claims', 'introspection'] as const;
export type IssuerMode = (typeof ISSUER_MODES)[number];

/** What one mode requires of its issuer's settings (checked by config/normalize-issuers.ts, reported under the option's path). */
export interface ModeNeeds {
  /** The client it needs: its id, or (for calls that authenticate the client) its secret too; and why, for the message. */
  client?: { needs: 'id' | 'secret'; why: string };
  /** A claims policy (`policy` or `policyFile`) decides its tokens; a policy given to any other mode is refused as unused. */
  policy: boolean;
  /** Its tokens' `aud` is checked, so it needs `audiences` or a client (whose id is then the audience). */
  audiences: boolean;
  /** It can read opaque (non-JWT) tokens, so `introspection.opaqueTokens` applies (at most one issuer may take them). */
  opaqueTokens: boolean;
}

/**
 * Each mode's needs, beside the list of modes: a new kind (src/idp/kinds/) adds its mode above and
 * its needs here (the Record type makes both required), and the configuration checks follow.
 */
export const MODE_NEEDS: Readonly<Record<IssuerMode, ModeNeeds>> = {
  'keycloak-uma': { client: { needs: 'id', why: "the resource server's client" }, policy: false, audiences: true, opaqueTokens: false },
  claims: { policy: true, audiences: true, opaqueTokens: false },
  introspection: {
    client: { needs: 'secret', why: 'RFC 7662 calls are client-authenticated' },
    policy: true,
    audiences: false,
    opaqueTokens: true,
  },
};

/**
 * Where a claim lives in the token. A string is a dotted path (`realm_access.roles`); a list
 * is the path's segments, for claim names that contain dots themselves, such as Auth0's
 * namespaced claims (`["https://example.com/roles"]`). A string holding `://` is refused rather
 * than guessed at: it would otherwise be split at the dots of its host name.
 */
export const claimPathSchema = z.union(
  [
    z
      .string()
      .min(1)
      .refine(
        (text) => !text.includes('://'),
        'a claim name containing dots (such as a URL) must be given as a list of path segments, e.g. ["https://example.com/roles"]',
      )
      .refine((text) => !text.split('.').includes(''), 'empty segment in a dotted claim path'),
    z.array(z.string().min(1)).min(1),
  ],
  {
    error: (issue) =>
      issue.input === undefined
        ? 'required: a claim path ("a.b", or ["segment", ...])'
        : 'must be a dotted path or a list of path segments',
  },
);
export type ClaimPathInput = z.input<typeof claimPathSchema>;

/** One condition: the claim at `claim` holds at least one of `values`. */
const conditionSchema = z.strictObject({
  claim: claimPathSchema,
  values: z.array(z.string().min(1)).min(1),
});

/** What a `resource#scope` requires: every `allOf` condition, and one `anyOf` condition when listed. */
const requirementSchema = z
  .strictObject({
    anyOf: z.array(conditionSchema).min(1).optional(),
    allOf: z.array(conditionSchema).min(1).optional(),
  })
  .refine(
    (requirement) => requirement.anyOf !== undefined || requirement.allOf !== undefined,
    'needs anyOf or allOf (a rule that requires nothing would allow every token)',
  );

/** `resource#scope`, either side `*` for any. */
export const POLICY_KEY = /^([^#\s*]+|\*)#([^#\s*]+|\*)$/;

/**
 * The claims policy: `rules` maps the route table's `resource#scope` (or `resource#*`,
 * `*#scope`, `*#*`) to a requirement; the most specific key decides alone; anything without
 * a rule is denied (`default` can only be `deny`: it is there so a policy file says so).
 */
export const policySchema = z.strictObject({
  default: z.literal('deny').default('deny'),
  rules: z.record(z.string().regex(POLICY_KEY), requirementSchema, {
    error: (issue) => (issue.code === 'invalid_key' ? 'must be resource#scope ("*" for any resource or any scope)' : undefined),
  }),
});
export type PolicyInput = z.output<typeof policySchema>;

/**
 * Signature algorithms a token may use. Only asymmetric ones: an HMAC algorithm would let
 * anyone holding the (public) JWKS forge tokens, and `none` is no signature at all.
 */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

const positiveMs = z.number().int().positive();
const positiveSeconds = z.number().positive();

/** The options every issuer has, whether given as the `issuer:` shorthand or in `issuers:`. */
export const issuerFields = {
  url: z.url({
    protocol: /^https?$/,
    error: (issue) => (issue.input === undefined ? 'required (AUTHZ_ISSUER_URL)' : 'must be an http(s) URL'),
  }),
  mode: z.enum(ISSUER_MODES).default('keycloak-uma'),
  /** Plain http is accepted for loopback issuers; anything else must opt in here. */
  allowInsecureHttp: z.boolean().default(false),
  /** Accepted `aud`/`azp` values; empty means [client.id]. */
  audiences: z.array(z.string().min(1)).default([]),
  algorithms: z.array(z.enum(ASYMMETRIC_ALGORITHMS)).min(1).default(['RS256', 'PS256', 'ES256', 'EdDSA']),
  clockToleranceSeconds: z.number().int().min(0).max(300).default(30),
  httpTimeoutMs: positiveMs.default(5_000), // discovery and JWKS fetches
  jwksCooldownMs: positiveMs.default(30_000), // unknown kid refetches at most this often
  jwksCacheMaxAgeMs: positiveMs.default(600_000),
  /** A failed discovery at start is retried with this backoff until it succeeds. */
  discoveryRetryMs: positiveMs.default(2_000),
  /** Which claims fill the identity headers (OIDC's names by default); `sub` is always the subject. */
  claims: z
    .strictObject({
      username: claimPathSchema.default('preferred_username'),
      email: claimPathSchema.default('email'),
      groups: claimPathSchema.default('groups'),
    })
    .prefault({}),
  /** The claims policy (modes `claims` and `introspection`); or `policyFile`. */
  policy: policySchema.optional(),
  /** A YAML/JSON file holding the policy (same format as `policy`). */
  policyFile: z.string().min(1).optional(),
  introspection: z
    .strictObject({
      /** Defaults to the discovery document's `introspection_endpoint`. */
      endpoint: z.url({ protocol: /^https?$/ }).optional(),
      /** An active answer is reused until the token's `exp`, but never longer than this (the revocation bound). */
      cacheMaxSeconds: positiveSeconds.default(60),
      /** An inactive answer (revoked, expired, unknown token) is remembered this long. */
      negativeCacheSeconds: positiveSeconds.default(10),
      negativeMaxEntries: z.number().int().positive().default(10_000),
      timeoutMs: positiveMs.default(3_000),
      /** Opaque (non-JWT) tokens are sent to this issuer; at most one issuer may take them. */
      opaqueTokens: z.boolean().default(true),
    })
    .prefault({}),
};

export const clientSchema = z.strictObject({
  id: z.string({ error: (issue) => (issue.input === undefined ? 'required (AUTHZ_CLIENT_ID)' : 'must be a string') }).min(1),
  secret: z.string().min(1).optional(),
  secretFile: z.string().min(1).optional(),
});

/** One entry of `issuers:`: the issuer options, its own id and (where its mode needs one) its client. */
export const issuerEntrySchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'letters, digits, "_", "-", "." (up to 64)'),
  ...issuerFields,
  client: clientSchema.optional(),
});
