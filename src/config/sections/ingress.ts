import { z } from 'zod';
import { isAddressOrCidr } from '../../request/trusted-proxies.js';

// How the original request is read (ingress-nginx's contract, its trusted senders, the URI bound) and how much identity is sent back.
// One section of the configuration schema; src/config/schema.ts composes the sections.

/** The `ingress:` section: ingress-nginx's external-auth contract and whom to believe it from. */
export const ingressSchema = z
  .strictObject({
    /**
     * Also accept ingress-nginx's external-auth contract (`auth-url`): the original request as
     * X-Original-URL (full URL) and X-Original-Method, the client as X-Real-IP. Read only from
     * `trustedProxies`; from any other sender X-Original-URL is ignored (see request/original.ts).
     */
    enabled: z.boolean().default(false),
    /** Addresses or CIDRs (the controller pods' network) whose X-Original-URL and X-Real-IP are believed. */
    trustedProxies: z
      .array(z.string().refine(isAddressOrCidr, 'an IPv4/IPv6 address or CIDR (10.0.0.0/8, fd00::/8)'))
      .default(['127.0.0.1/32', '::1/128']),
  })
  .prefault({});

/** The `request:` section: the longest original URI read. */
export const requestSchema = z
  .strictObject({
    maxUriLength: z.number().int().min(256).max(65_536).default(8_192),
  })
  .prefault({});

/** The `identity:` section: the most bytes of identity headers sent back to NGINX. */
export const identitySchema = z
  .strictObject({
    maxHeaderBytes: z.number().int().min(64).max(8_192).default(1_024),
  })
  .prefault({});
