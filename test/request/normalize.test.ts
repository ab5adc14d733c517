import { RejectedUri } from '../../src/errors.js';
import { normalizeMethod, normalizeUri } from '../../src/request/normalize.js';

const path = (raw: string): string => normalizeUri(raw, 8192).path;

describe('normalizeUri', () => {
  it.each([
    ['/api/2.0/mlflow/runs/delete', '/api/2.0/mlflow/runs/delete'],
    ['//api//2.0///mlflow/runs/delete', '/api/2.0/mlflow/runs/delete'],
    ['/api/2.0/mlflow/runs/delete/', '/api/2.0/mlflow/runs/delete'],
    ['/api/2.0/mlflow/runs/dele%74e', '/api/2.0/mlflow/runs/delete'],
    ['/%61pi/2.0/mlflow/runs/delete', '/api/2.0/mlflow/runs/delete'],
    ['/', '/'],
    ['', undefined],
  ])('%s → %s', (raw, expected) => {
    if (expected === undefined) expect(() => path(raw)).toThrow(RejectedUri);
    else expect(path(raw)).toBe(expected);
  });

  it('keeps the query apart from the path, unmatched', () => {
    expect(normalizeUri('/api/2.0/mlflow/runs/get?run_id=abc&x=%2F', 8192)).toEqual({
      path: '/api/2.0/mlflow/runs/get',
      query: 'run_id=abc&x=%2F',
    });
    expect(normalizeUri('/x?/../y', 8192)).toEqual({ path: '/x', query: '/../y' });
  });

  it('accepts absolute-form targets by dropping scheme and authority', () => {
    expect(path('http://mlflow.example/api/2.0/mlflow/runs/delete')).toBe('/api/2.0/mlflow/runs/delete');
    expect(path('https://mlflow.example')).toBe('/');
  });

  it.each([
    ['encoded slash', '/api/2.0/mlflow/runs%2Fdelete'],
    ['encoded slash, lower case', '/api/2.0/mlflow/runs%2fdelete'],
    ['encoded backslash', '/api/2.0/mlflow/runs%5Cdelete'],
    ['raw backslash', '/api/2.0/mlflow/runs\\delete'],
    ['encoded NUL', '/api/2.0/mlflow/runs/delete%00'],
    ['encoded newline', '/api/2.0/mlflow/runs/delete%0d%0aX-Injected:1'],
    ['dot segments above root', '/../api/2.0/mlflow/runs/delete'],
    ['encoded dot segments above root', '/%2e%2e/etc/passwd'],
    ['malformed escape', '/api/2.0/mlflow/runs/%zz'],
    ['truncated escape', '/api/2.0/mlflow/runs/%2'],
    ['invalid UTF-8', '/api/2.0/mlflow/runs/%ff'],
    ['raw space', '/api/2.0/mlflow/runs/ delete'],
    ['raw 8-bit byte', '/api/2.0/mlflow/runs/d\u00e9lete'],
    ['fragment', '/api/2.0/mlflow/runs/delete#x'],
    ['asterisk form', '*'],
    ['relative', 'api/2.0/mlflow/runs/delete'],
  ])('rejects %s', (_name, raw) => {
    expect(() => path(raw)).toThrow(RejectedUri);
  });

  it('decodes once for matching: %25 becomes a literal %, as in the upstream router', () => {
    expect(path('/api/2.0/mlflow/runs/dele%2574e')).toBe('/api/2.0/mlflow/runs/dele%74e');
    expect(path('/api/2.0/mlflow-artifacts/artifacts/5/r/100%25.txt')).toBe('/api/2.0/mlflow-artifacts/artifacts/5/r/100%.txt');
  });

  // Issue 10, A7: MLflow's routers do not resolve dot segments, so resolving them decided on
  // another endpoint than the one executed (a gateway proxy call allowed as runs#read).
  it.each([
    '/gateway/proxy/my-endpoint/../../../api/2.0/mlflow/runs/search',
    '/api/2.0/mlflow/runs/../runs/delete',
    '/api/2.0/mlflow/experiments/get/../../runs/delete',
    '/api/2.0/mlflow/./runs/./delete',
    '/api/2.0/mlflow/runs/%2e%2e/runs/delete',
    '/api/2.0/mlflow/runs/%2E%2E/runs/delete',
    '/api/2.0/mlflow/runs/.%2e/runs/delete',
    '/api/2.0/mlflow/runs/%2e/delete',
    '/api/2.0/mlflow/runs/delete/..',
    '/api/2.0/mlflow/runs/delete/.',
  ])('refuses dot segments instead of resolving them: %s', (raw) => {
    expect(() => path(raw)).toThrow(RejectedUri);
  });

  // Issue 10, A3: a later decoding (MLflow decodes artifact paths until they settle) must not
  // reveal structure the first one hid.
  it.each([
    ['doubly encoded slash', '/api/2.0/mlflow/runs%252Fdelete'],
    ['doubly encoded dot segment', '/api/2.0/mlflow-artifacts/artifacts/5/%252e%252e/6/x'],
    ['triply encoded dot segment', '/api/2.0/mlflow-artifacts/artifacts/5/%25252e%25252e/6/x'],
    ['doubly encoded backslash', '/api/2.0/mlflow-artifacts/artifacts/5/a%255Cb'],
    ['doubly encoded NUL', '/api/2.0/mlflow-artifacts/artifacts/5/a%2500'],
    ['never settles', `/api/2.0/mlflow-artifacts/artifacts/5/%${'25'.repeat(12)}41`],
    ['later round not UTF-8', '/api/2.0/mlflow-artifacts/artifacts/5/%25ff'],
  ])('rejects a %s', (_name, raw) => {
    expect(() => path(raw)).toThrow(RejectedUri);
  });

  it('rejects an overlong URI', () => {
    expect(() => normalizeUri(`/${'a'.repeat(300)}`, 256)).toThrow(RejectedUri);
    expect(normalizeUri(`/${'a'.repeat(200)}`, 256).path).toHaveLength(201);
  });

  it('decodes UTF-8 segments', () => {
    expect(path('/api/2.0/mlflow-artifacts/artifacts/caf%C3%A9.txt')).toBe('/api/2.0/mlflow-artifacts/artifacts/café.txt');
  });
});

describe('normalizeMethod', () => {
  it('upper-cases method tokens and refuses anything else', () => {
    expect(normalizeMethod('delete')).toBe('DELETE');
    expect(normalizeMethod('Get')).toBe('GET');
    expect(normalizeMethod('HEAD')).toBe('HEAD');
    expect(normalizeMethod('GET /x')).toBeUndefined();
    expect(normalizeMethod('')).toBeUndefined();
    expect(normalizeMethod('G\u00c9T')).toBeUndefined();
  });
});
