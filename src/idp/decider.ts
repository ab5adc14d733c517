/**
 * How the decision step asks the IdP (`decision.mode`): resolves when allowed, throws the refusal.
 * `family` is the route table's name for the resource (metric labels: never the concrete name).
 */
export interface Decider {
  decide(token: string, resource: string, scope: string, family: string): Promise<void>;
}

/**
 * Sends a caller without an RPT for one (`uma.challenge`): always rejects, with a permission
 * ticket challenge (decide/challenge.ts) or the reason no ticket could be made.
 */
export interface Challenger {
  challenge(resource: string, scope: string, family: string): Promise<never>;
}
