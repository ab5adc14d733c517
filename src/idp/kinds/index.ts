import type { IssuerMode } from '../../config/issuer-schema.js';
import type { IssuerKind } from '../trusted-issuer.js';
import { claims } from './claims.js';
import { introspection } from './introspection.js';
import { keycloakUma } from './keycloak-uma.js';

/**
 * Every IdP kind, by the `mode` that selects it (`issuer.mode`, `issuers[].mode`). The only
 * place a mode is mapped to code: a new kind is one file in this folder and one entry here
 * (typed by the config's list of modes, so a mode without a kind does not compile).
 */
export const ISSUER_KINDS: Readonly<Record<IssuerMode, IssuerKind>> = {
  'keycloak-uma': keycloakUma,
  claims,
  introspection,
};

/** The kinds an issuer registry is built with: the map above, or (tests) one with more. */
export type IssuerKinds = Readonly<Record<string, IssuerKind>>;
