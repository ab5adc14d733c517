import { z } from 'zod';
import { positiveSeconds } from './units.js';

// Browser single sign-on (`login:`) and OIDC back-channel logout (`logout:`).
// One section of the configuration schema; src/config/schema.ts composes the sections.

/** The `login:` section: browser single sign-on. */
export const loginSchema = z
  .strictObject({
    /** Browser single sign-on: /oauth2/start, /oauth2/callback, /oauth2/sign_out (authorization code + PKCE). */
    enabled: z.boolean().default(false),
    /** External base URL (`https://mlflow.example.com`); unset: from X-Forwarded-Proto/Host, host checked against `allowedHosts`. */
    publicUrl: z.url({ protocol: /^https?$/ }).optional(),
    /**
     * Hosts (`host` or `host:port`) a login may return to and whose X-Forwarded-Host is trusted
     * for the redirect URI. Loopback hosts (127.0.0.1, localhost, [::1], any port) are always allowed.
     */
    allowedHosts: z.array(z.string().regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-fA-F:]+\](:\d{1,5})?$/, 'host or host:port')).default([]),
    scope: z.string().min(1).default('openid profile email'),
    /** Where a browser lands after sign-out (a path on the public URL; registered as post_logout_redirect_uri). */
    postLogoutPath: z
      .string()
      .regex(/^\/(?![/\\])[\x21-\x7e]*$/, 'a path starting with a single /')
      .default('/'),
    /** A login must come back from the IdP within this time. */
    stateTtlSeconds: positiveSeconds.default(600),
  })
  .prefault({});

/** The `logout:` section: bounds of back-channel logout (token age, revocation records, remembered jtis). */
export const logoutSchema = z
  .strictObject({
    /** Client ids a logout token's `aud` may name besides each issuer's client id, its `audiences` and `basic.clientId`. */
    audiences: z.array(z.string().min(1)).default([]),
    /** A logout token issued longer ago than this is refused (its `jti` is remembered this long, plus the skew). */
    maxTokenAgeSeconds: positiveSeconds.max(3_600).default(120),
    /** How long a logout refuses the subject's (or session's) earlier tokens: at least the longest access-token lifetime. */
    revocationRetentionSeconds: positiveSeconds.default(86_400),
    /** Revocation records and remembered `jti`s held at most each (oldest dropped first). */
    maxEntries: z.number().int().positive().default(100_000),
  })
  .prefault({});
