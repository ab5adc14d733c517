/**
 * src/config/repair.ts: an input that failed the schema is made to pass (unknown keys and wrong
 * values removed, required ones replaced by a placeholder), so the cross-option checks still run
 * and every problem is reported at once; `isAbout` drops the echoes of a problem already reported.
 */
import { z } from 'zod';
import { isAbout, repairInput } from '../../src/config/repair.js';

const schema = z.strictObject({
  server: z.strictObject({ port: z.number().int().default(8080), host: z.string().default('127.0.0.1') }).prefault({}),
  issuer: z.strictObject({ url: z.url(), mode: z.enum(['a', 'b']).default('a') }),
  list: z.array(z.string()).default([]),
});

function repair(input: Record<string, unknown>) {
  const parsed = schema.safeParse(input);
  if (parsed.success) throw new Error('the input is valid: nothing to repair');
  return repairInput(schema, input, parsed.error.issues);
}

describe('repairInput', () => {
  it('removes unknown keys and wrong optional values, so their defaults apply, and says which it touched', () => {
    const repaired = repair({ server: { port: 'eighty', colour: 'red' }, issuer: { url: 'https://idp.example/realms/x' }, extra: 1 });
    expect(repaired?.data).toEqual({
      server: { port: 8080, host: '127.0.0.1' },
      issuer: { url: 'https://idp.example/realms/x', mode: 'a' },
      list: [],
    });
    expect(repaired?.touched.sort()).toEqual(['extra', 'server.colour', 'server.port']);
  });

  it('replaces a wrong required value with the first placeholder its schema accepts', () => {
    const repaired = repair({ issuer: { url: 'not a url' } });
    expect(repaired?.data.issuer.url).toBe('https://placeholder.invalid/');
    expect(repaired?.touched).toEqual(['issuer.url']);
  });

  it('fills a required section that is missing with {} when its own options all have defaults, and gives up when they do not', () => {
    const sections = z.strictObject({ cache: z.strictObject({ seconds: z.number().default(5) }), issuer: schema.shape.issuer });
    const withIssuer = { issuer: { url: 'https://idp.example/' } };
    const filled = repairInput(sections, withIssuer, sections.safeParse(withIssuer).error!.issues);
    expect(filled?.data.cache).toEqual({ seconds: 5 });
    expect(filled?.touched).toEqual(['cache']);
    const withCache = { cache: {} };
    expect(repairInput(sections, withCache, sections.safeParse(withCache).error!.issues)).toBeUndefined();
  });

  it('leaves the caller’s input as it was', () => {
    const input = { server: { port: 'x' }, issuer: { url: 'https://idp.example/' } };
    repair(input);
    expect(input).toEqual({ server: { port: 'x' }, issuer: { url: 'https://idp.example/' } });
  });

  it('gives up (undefined) when the whole input is wrong or no placeholder fits', () => {
    expect(repairInput(schema, 'text' as unknown as Record<string, unknown>, schema.safeParse('text').error!.issues)).toBeUndefined();
    const strict = z.strictObject({ token: z.string().regex(/^[0-9a-f]{64}$/) });
    const issues = strict.safeParse({ token: 'short' }).error!.issues;
    expect(repairInput(strict, { token: 'short' }, issues)).toBeUndefined();
  });
});

describe('isAbout', () => {
  const touched = ['issuer.url', 'server'];

  it('is true for a problem under, around or at a touched option', () => {
    expect(isAbout('issuer.url: plain http is only accepted for loopback hosts', touched)).toBe(true);
    expect(isAbout('server.port: must be a number', touched)).toBe(true);
    expect(isAbout('issuer: required', touched)).toBe(true);
  });

  it('is true for a problem that reasons from a touched option elsewhere in its text', () => {
    expect(isAbout('client.secret: required when issuer.url is https (x)', touched)).toBe(true);
  });

  it('is false for other options, including ones whose names merely begin the same way', () => {
    expect(isAbout('client.id: required (AUTHZ_CLIENT_ID)', touched)).toBe(false);
    expect(isAbout('issuer.urls: unknown option', touched)).toBe(false);
    expect(isAbout('servers: unknown option', touched)).toBe(false);
    expect(isAbout('login.enabled: see issuer.url2', touched)).toBe(false);
  });
});
