import type { Config } from '../config/schema.js';
import { type AuthzError, ConflictingOriginalRequest } from '../errors.js';
import { flatLineLogger, type Logger } from '../log.js';
import type { Metrics } from '../ops/metrics.js';
import type { DecisionState } from './original-request.js';

// The last thing every /auth answer does (src/auth/pipeline.ts): count it and, when asked or when
// it is an operator's problem, log one line about it. Never the token, never the claims.

/** Records one answered decision: its metric, and its audit or warning line. */
export type DecisionRecorder = (state: DecisionState, decision: 'allow' | 'deny' | 'error', reason: string, error?: AuthzError) => void;

/** Builds the recorder for `log.audit`: the audit logger is made once, not per request. */
export function decisionRecorder(config: Config, log: Logger, metrics: Metrics): DecisionRecorder {
  // The audit line holds primitive values only (below), so its logger skips the nested redaction paths (log.ts).
  const audit = config.log.audit ? flatLineLogger(log, { audit: true }) : undefined;
  return function finish(state, decision, reason, error): void {
    const seconds = (performance.now() - state.startedAt) / 1000;
    const route = state.route;
    metrics.recordDecision(decision, reason, route?.family ?? 'none', route?.scope ?? 'none', state.source, seconds);
    // Deployment errors (400, an unknown route table) and IdP failures are logged even without the audit log.
    // A subrequest describing two different requests is a client probing the proxy contract: logged too.
    const misconfigured = error?.status === 400 || error?.code === 'unknown_service' || error instanceof ConflictingOriginalRequest;
    if (audit === undefined && !misconfigured && error?.status !== 503) return;
    const line = {
      user: state.identity === undefined ? undefined : (state.identity.username ?? state.identity.subject),
      // A fingerprint for correlation, never the token. Not named `token`: the logger redacts that name.
      token_fp: state.identity?.tokenHash.slice(0, 12),
      method: state.method,
      path: state.uri?.path,
      resource: route?.resource,
      scope: route?.scope,
      decision,
      reason,
      source: state.source,
      cache_hit: state.source === 'cache',
      latency_ms: Math.round(seconds * 1e6) / 1e3,
      detail: error?.detail,
    };
    if (error?.status === 503 || misconfigured) log.warn(line, 'decision failed');
    else audit!.info(line, 'decision');
  };
}
