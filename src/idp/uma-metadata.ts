import type { Config } from '../config/schema.js';
import { IdpUnavailable } from '../errors.js';
import type { Metrics } from '../ops/metrics.js';
import { OneFlight } from '../util/single-flight.js';
import { idpFetch, readJson } from './http.js';
import type { IdentityProvider } from './provider.js';

/** What the service needs from the issuer's UMA 2.0 metadata. */
export interface UmaEndpoints {
  permissionEndpoint: string;
  resourceRegistrationEndpoint: string;
}

/**
 * The issuer's UMA 2.0 metadata (`<issuer>/.well-known/uma2-configuration`, UMA 2.0 Grant
 * §2 / Federated Authorization §2), fetched on first use: only ticket mode and the UMA
 * challenge need it, so an issuer without UMA still serves the default decision mode.
 * One fetch at a time; a failure is not remembered, the next caller tries again.
 */
export class UmaMetadata {
  private endpoints: UmaEndpoints | undefined;
  private readonly discovery = new OneFlight<UmaEndpoints>();

  constructor(
    private readonly config: Config,
    private readonly provider: IdentityProvider,
    private readonly metrics: Metrics,
  ) {}

  /** @throws {IdpUnavailable} when the metadata cannot be had (fail closed) */
  get(): Promise<UmaEndpoints> {
    if (this.endpoints !== undefined) return Promise.resolve(this.endpoints);
    return this.discovery.run(() => this.fetch());
  }

  private async fetch(): Promise<UmaEndpoints> {
    const issuer = this.provider.endpoints?.issuer;
    if (issuer === undefined) throw new IdpUnavailable({ detail: 'issuer not discovered yet' });
    const response = await idpFetch(
      this.metrics,
      'uma_discovery',
      `${issuer}/.well-known/uma2-configuration`,
      { headers: { accept: 'application/json' } },
      this.config.issuer.httpTimeoutMs,
    );
    const body = response.ok ? await readJson(response, 'uma_discovery') : undefined;
    const permission = body?.permission_endpoint;
    const registration = body?.resource_registration_endpoint;
    if (typeof permission !== 'string' || typeof registration !== 'string') {
      throw new IdpUnavailable({ detail: `uma_discovery: the issuer publishes no usable UMA 2.0 metadata (HTTP ${response.status})` });
    }
    this.endpoints = { permissionEndpoint: permission, resourceRegistrationEndpoint: registration };
    return this.endpoints;
  }
}
