import { RejectedUri } from '../../src/errors.js';
import { normalizeUri } from '../../src/request/normalize.js';
import { RouteMatcher } from '../../src/routes/match.js';
import { objectResource } from '../../src/routes/objects.js';
import { parseRouteTable, readPreset, RouteTableError } from '../../src/routes/table.js';

const matcher = new RouteMatcher(parseRouteTable(readPreset('mlflow'), 'preset mlflow'));

/** The per-object resource the MLflow preset gives a request, or undefined. */
function object(method: string, target: string): string | undefined {
  const { path, query } = normalizeUri(target, 8192);
  const outcome = matcher.match(method, path);
  if (outcome.kind !== 'matched') throw new Error(`${method} ${path}: ${outcome.kind}`);
  return objectResource(method, query, outcome.match);
}

describe('objectResource (MLflow preset object hints)', () => {
  it.each([
    ['GET', '/api/2.0/mlflow-artifacts/artifacts/12/0a1b/artifacts/model/MLmodel', 'experiment:12'],
    ['PUT', '/ajax-api/2.0/mlflow-artifacts/artifacts/12/0a1b/artifacts/x.txt', 'experiment:12'],
    ['DELETE', '/api/2.0/mlflow-artifacts/artifacts/7/r/artifacts/x.txt', 'experiment:7'],
    ['POST', '/api/2.0/mlflow-artifacts/mpu/create/7/r/artifacts/big.bin', 'experiment:7'],
    ['GET', '/api/2.0/mlflow-artifacts/presigned/7/r/artifacts/big.bin', 'experiment:7'],
    ['GET', '/api/2.0/mlflow-artifacts/artifacts?path=12/0a1b/artifacts', 'experiment:12'],
    // MLflow decodes artifact paths until they settle: %2535 -> %35 -> 5 (issue 10, A3).
    ['GET', '/api/2.0/mlflow-artifacts/artifacts/%2535/run1/artifacts/secret.txt', 'experiment:5'],
    ['PUT', '/ajax-api/2.0/mlflow-artifacts/artifacts/%25253%2535/r/artifacts/x', 'experiment:5'],
    ['GET', '/api/2.0/mlflow-artifacts/artifacts?path=%2535/run1', 'experiment:5'],
    ['GET', '/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/x', 'experiment:0'],
    ['GET', '/api/2.0/mlflow-artifacts/artifacts/%25%32%35%33%35/r/x', 'experiment:5'], // %2535, itself encoded
    ['GET', '/api/2.0/mlflow/experiments/get?experiment_id=5', 'experiment:5'],
    ['HEAD', '/ajax-api/2.0/mlflow/experiments/get?experiment_id=005', 'experiment:5'], // the store compares integers
    ['GET', '/api/2.0/mlflow/experiments/get?experiment_id=0', 'experiment:0'],
    ['GET', '/api/2.0/mlflow/experiments/get?experiment_id=100', 'experiment:100'], // only leading zeros go
    ['GET', '/api/2.0/mlflow/experiments/get?experiment_id=1000000000000000000', 'experiment:1000000000000000000'],
  ])('%s %s → %s', (method, target, expected) => {
    expect(object(method, target)).toBe(expected);
  });

  it.each([
    ['GET', '/api/2.0/mlflow-artifacts/artifacts'], // the root listing names no experiment
    ['GET', '/api/2.0/mlflow-artifacts/artifacts?path='], // the root listing, spelt out
    ['GET', '/api/2.0/mlflow/experiments/get'],
    ['GET', '/api/2.0/mlflow/experiments/get-by-name?experiment_name=x'],
    ['POST', '/api/2.0/mlflow/runs/search?experiment_id=5'], // bodies decide POSTs; the query is not read
    ['GET', '/api/2.0/mlflow/runs/get?run_id=abc&experiment_id=5'], // no object hint on this route
  ])('%s %s names no object (the family decides)', (method, target) => {
    expect(object(method, target)).toBeUndefined();
  });

  it.each([
    ['GET', '/api/2.0/mlflow/experiments/get?experiment_id=1&experiment_id=2'],
    ['GET', '/api/2.0/mlflow/experiments/get?experiment_id=1&experiment%5Fid=2'],
    ['GET', '/api/2.0/mlflow/experiments/get?experiment_id=+1'],
    ['GET', '/api/2.0/mlflow/experiments/get?experiment_id=abc'],
    ['GET', '/api/2.0/mlflow/experiments/get?experiment_id=5abc'], // a number, then more
    ['GET', '/api/2.0/mlflow/experiments/get?experiment_id=12345678901234567890'], // 20 digits: no SQL integer
    // A backslash or control character anywhere in the settled artifact path, not only in its first segment.
    ['GET', '/api/2.0/mlflow-artifacts/artifacts/5/r/artifacts/a%255Cb'],
    ['GET', '/api/2.0/mlflow-artifacts/artifacts/5/r/artifacts/a%2501b'],
    ['GET', '/api/2.0/mlflow-artifacts/artifacts?path=5/r/a%5Cb'], // the query is not normalised as a path is
    ['GET', '/api/2.0/mlflow-artifacts/artifacts?path=5/r/a%01b'],
    ['GET', '/api/2.0/mlflow-artifacts/artifacts?path=1&path=2'],
    ['GET', '/api/2.0/mlflow-artifacts/artifacts?path=1/../2'],
    // A first segment that is no canonical experiment id is refused, never decided on the family.
    ['GET', '/api/2.0/mlflow-artifacts/artifacts/custom-location/x.txt'],
    ['GET', '/api/2.0/mlflow-artifacts/artifacts/05/r/artifacts/x'],
    ['GET', '/api/2.0/mlflow-artifacts/artifacts/%252e/5/r/x'],
    ['GET', '/api/2.0/mlflow-artifacts/artifacts/5%252F..%252F6/r/x'],
    ['GET', '/api/2.0/mlflow-artifacts/artifacts/%25255C5/r/x'],
    ['GET', '/api/2.0/mlflow-artifacts/artifacts?path=%2F.%2F12%2Fr'], // absolute: MLflow refuses it too
    ['GET', '/api/2.0/mlflow-artifacts/artifacts?path=./12/r'],
    ['GET', '/api/2.0/mlflow-artifacts/artifacts?path=%252e%252e/12'],
    ['GET', `/api/2.0/mlflow-artifacts/artifacts/%${'25'.repeat(11)}35/r/x`], // does not settle within ten rounds
  ])('refuses %s %s rather than falling back to the family', (method, target) => {
    expect(() => object(method, target)).toThrow(RejectedUri);
  });

  it('reads experiment_id from the query of GET and HEAD only: a POST handler reads its body, not the query', () => {
    const table = `
paths:
  - path: /exp/get
    name: experiments
    object: experiment-query
    methods:
      - { method: GET, scopes: [read] }
      - { method: POST, scopes: [write] }
`;
    const own = new RouteMatcher(parseRouteTable(table, 'test'));
    const at = (method: string) => {
      const outcome = own.match(method, '/exp/get');
      if (outcome.kind !== 'matched') throw new Error(outcome.kind);
      return objectResource(method, 'experiment_id=5', outcome.match);
    };
    expect(at('GET')).toBe('experiment:5');
    expect(at('POST')).toBeUndefined();
  });

  it('rejects an artifact-path hint on a path without a trailing *', () => {
    const table = 'paths:\n  - { path: /x/{id}, name: x, object: experiment-artifact-path, methods: [{ method: GET, scopes: [read] }] }\n';
    expect(() => parseRouteTable(table, 't')).toThrow(RouteTableError);
  });
});
