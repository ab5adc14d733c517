/**
 * Empty Origin and Referer headers count as absent, as the mutation run of src/login/origin.ts
 * (docs/mutation.md) found unguarded: an empty Origin falls back to Referer, an empty Referer is no
 * evidence, and the refusal names the header that was actually compared.
 */
import { crossOriginRefusal, provenance } from '../../src/login/origin.js';

const BASE = new URL('https://mlflow.example.com/');

describe('origin headers that are present but empty', () => {
  it('an empty Origin falls back to Referer', () => {
    expect(provenance({ origin: '', referer: 'https://mlflow.example.com/x' }, BASE)).toBe('same-origin');
    expect(provenance({ origin: '', referer: 'https://evil.example/x' }, BASE)).toBe('cross-origin');
  });

  it('an empty Referer (and no Origin) shows nothing', () => {
    expect(provenance({ referer: '' }, BASE)).toBe('unknown');
    expect(provenance({ origin: '', referer: '' }, BASE)).toBe('unknown');
    expect(crossOriginRefusal({ referer: '' }, BASE)).toBe('neither Origin nor Referer names this site');
  });

  it('a refusal names Referer when Origin was empty', () => {
    expect(crossOriginRefusal({ origin: '', referer: 'https://evil.example/' }, BASE)).toBe('Referer is not on https://mlflow.example.com');
  });
});
