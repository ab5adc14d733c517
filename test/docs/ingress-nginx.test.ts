/** docs/ingress-nginx.md's annotations say what the service and the e2e front actually use. */
import { readFileSync } from 'node:fs';
import { IDENTITY_HEADERS } from '../../src/auth/respond.js';
import { OPTION_NOTES } from '../../src/config/option-notes.js';

const doc = readFileSync(new URL('../../docs/ingress-nginx.md', import.meta.url), 'utf8');
const annotation = (name: string): string | undefined => new RegExp(`nginx\\.ingress\\.kubernetes\\.io/${name}: "([^"]*)"`).exec(doc)?.[1];

describe('docs/ingress-nginx.md', () => {
  it('lists every identity header the service answers with (the e2e front copies the same list)', () => {
    const listed = annotation('auth-response-headers')?.split(',');
    expect(listed).toEqual(Object.values(IDENTITY_HEADERS));
  });

  it("points auth-url at the service's MLflow decision path and auth-signin at /oauth2/start", () => {
    expect(new URL(annotation('auth-url')!).pathname).toBe('/auth');
    expect(new URL(annotation('auth-signin')!).pathname).toBe('/oauth2/start');
  });

  it('names the options it documents', () => {
    for (const option of ['ingress.enabled', 'ingress.trustedProxies']) expect(OPTION_NOTES[option]).toBeDefined();
    expect(doc).toContain('trustedProxies:');
  });
});
