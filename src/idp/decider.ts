/**
 * How the decision step asks the IdP (`decision.mode`): resolves when allowed, throws the refusal.
 * `family` is the route table's name for the resource (metric labels: never the concrete name).
 */
export interface Decider {
  decide(token: string, resource: string, scope: string, family: string): Promise<void>;
}
