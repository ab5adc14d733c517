import { OBJECT_FAMILY, PerObjectResolver } from '../../src/decide/per-object.js';
import type { SubjectLimiter } from '../../src/decide/limiter.js';
import type { ProtectionApi } from '../../src/idp/protection.js';
import type { RouteMatch } from '../../src/routes/match.js';
import type { Identity } from '../../src/tokens/verify.js';

// Edges of uma.perObject found by mutation testing (issue 16), on the resolver itself: which
// routes are narrowed, what a cached answer gives synchronously, and who is charged a lookup.

/** A protection API double: a resource-name directory, its cache, and the names asked for. */
class Directory {
  readonly asked: string[] = [];
  readonly cached = new Map<string, string | undefined>();
  constructor(private readonly ids: Record<string, string>) {}
  cachedResourceId(name: string): { id: string | undefined } | undefined {
    return this.cached.has(name) ? { id: this.cached.get(name) } : undefined;
  }
  async findResourceId(name: string): Promise<string | undefined> {
    this.asked.push(name);
    return this.ids[name];
  }
}

const route = (overrides: Partial<RouteMatch> = {}): RouteMatch => ({
  pattern: '/api/2.0/mlflow/experiments/get',
  public: false,
  authenticated: false,
  resource: 'experiments',
  family: 'experiments',
  scope: 'read',
  params: {},
  rest: [],
  object: 'experiment-query',
  remote: false,
  ...overrides,
});
const uri = (query: string) => ({ path: '/api/2.0/mlflow/experiments/get', query });
const caller = { subject: 'carol' } as Identity;

let directory: Directory;
let charged: Array<[string, string]>;
let resolver: PerObjectResolver;
beforeEach(() => {
  directory = new Directory({ 'experiment:1': 'id-1' });
  charged = [];
  const limiter = { take: (who: Identity, kind: string) => charged.push([who.subject, kind]) } as unknown as SubjectLimiter;
  resolver = new PerObjectResolver(directory as unknown as ProtectionApi, limiter);
});

describe('PerObjectResolver edges', () => {
  it("narrows to the experiment's own resource, labelled with the bounded family", async () => {
    expect(await resolver.narrow('GET', uri('experiment_id=1'), route(), caller)).toEqual(
      route({ resource: 'experiment:1', family: OBJECT_FAMILY }),
    );
    expect(OBJECT_FAMILY).toBe('experiment:*');
    expect(directory.asked).toEqual(['experiment:1']);
  });

  it('keeps the route when Keycloak has no resource for the experiment', async () => {
    const original = route();
    expect(await resolver.narrow('GET', uri('experiment_id=2'), original, caller)).toBe(original);
  });

  it('never narrows a public route, nor one without an object rule, nor a request that names no object', () => {
    const open = route({ public: true });
    expect(resolver.narrow('GET', uri('experiment_id=1'), open, caller)).toBe(open);
    const plain = route({ object: undefined });
    expect(resolver.narrow('GET', uri('experiment_id=1'), plain, caller)).toBe(plain);
    const unnamed = route();
    expect(resolver.narrow('GET', uri(''), unnamed, caller)).toBe(unnamed);
    expect(directory.asked).toEqual([]);
    expect(charged).toEqual([]);
  });

  it('answers from the cache synchronously, found or absent, and charges nobody', () => {
    directory.cached.set('experiment:1', 'id-1');
    directory.cached.set('experiment:2', undefined);
    expect(resolver.narrow('GET', uri('experiment_id=1'), route(), caller)).toEqual(
      route({ resource: 'experiment:1', family: OBJECT_FAMILY }),
    );
    const original = route();
    expect(resolver.narrow('GET', uri('experiment_id=2'), original, caller)).toBe(original);
    expect(directory.asked).toEqual([]);
    expect(charged).toEqual([]);
  });

  it('charges the caller one resource-name lookup for a miss, and nobody when there is no caller', async () => {
    await resolver.narrow('GET', uri('experiment_id=1'), route(), caller);
    expect(charged).toEqual([['carol', 'resource_name']]);
    await resolver.narrow('GET', uri('experiment_id=3'), route());
    expect(charged).toEqual([['carol', 'resource_name']]);
    expect(directory.asked).toEqual(['experiment:1', 'experiment:3']);
  });

  it('asks nothing when the caller is over its lookup rate', () => {
    const refusing = {
      take: () => {
        throw new Error('over the rate');
      },
    } as unknown as SubjectLimiter;
    const limited = new PerObjectResolver(directory as unknown as ProtectionApi, refusing);
    expect(() => limited.narrow('GET', uri('experiment_id=1'), route(), caller)).toThrow('over the rate');
    expect(directory.asked).toEqual([]);
  });

  it('works without a limiter', async () => {
    const unlimited = new PerObjectResolver(directory as unknown as ProtectionApi);
    expect((await unlimited.narrow('GET', uri('experiment_id=1'), route(), caller)).resource).toBe('experiment:1');
  });
});
