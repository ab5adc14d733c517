import type { Config, IssuerSettings } from '../config/schema.js';

/**
 * The `aud` values a logout token from this issuer may carry: the IdP addresses it to the
 * client whose session ended, so every client of ours that signs people in or hands out the
 * tokens we see: the issuer's client id and accepted audiences, the Basic client of the
 * primary issuer (`basic.clientId`, e.g. mlflow-cli), and `logout.audiences`.
 */
export function logoutAudiences(config: Config, settings: IssuerSettings): string[] {
  const audiences = new Set<string>([settings.client.id, ...settings.issuer.audiences, ...config.logout.audiences]);
  if (settings === config.issuers[0]) audiences.add(config.basic.clientId);
  return [...audiences];
}
