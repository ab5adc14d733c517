import type { Request, Response } from 'express';

/** Liveness: the process answers. Never depends on the IdP (a restart would not fix it). */
export function healthz(_req: Request, res: Response): void {
  res.status(200).json({ status: 'ok' });
}

/** Readiness: discovery done and signing keys loaded (every issuer's), so decisions can be made. */
export function readyz(provider: { readonly ready: boolean }) {
  return function readiness(_req: Request, res: Response): void {
    if (provider.ready) res.status(200).json({ status: 'ready' });
    else res.status(503).json({ status: 'not ready', reason: 'issuer metadata or keys not loaded' });
  };
}
