import type { Request, Response } from 'express';

/** Liveness: the process answers. Never depends on the IdP (a restart would not fix it). */
export function healthz(_req: Request, res: Response): void {
  res.status(200).json({ status: 'ok' });
}

/**
 * Readiness: every issuer discovered with its signing keys, and the client secrets in use
 * accepted by the IdP (src/idp/credentials.ts). Otherwise 503, the body saying why, one
 * reason per problem (URLs, statuses and hints only: nothing secret).
 */
export function readyz(notReady: () => string[]) {
  return function readiness(_req: Request, res: Response): void {
    const reasons = notReady();
    if (reasons.length === 0) res.status(200).json({ status: 'ready' });
    else res.status(503).json({ status: 'not ready', reason: reasons.join('; '), reasons });
  };
}
