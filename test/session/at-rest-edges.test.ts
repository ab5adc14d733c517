/**
 * The sealed session record is a wire format: Redis holds records sealed by every replica and by the
 * release before an upgrade, so the key derivation and the layout must not drift. These tests seal
 * and open independently from the documented parameters (HKDF-SHA256 of `session.secret`, salt
 * "nginx-authz session store", info "nginx-authz-session-at-rest", 32 bytes; AES-256-GCM, the Redis
 * key name as additional data; "v1." + base64url(iv 12 | ciphertext | tag 16)). Found unguarded by
 * the mutation run of src/session/at-rest.ts (docs/mutation.md, round 4): a salt or info changed on
 * both sides at once was invisible to a test that seals and opens with the same class.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { AtRestSealer } from '../../src/session/at-rest.js';

const SECRET = 'a-development-secret-of-at-least-32-chars';
const KEY = Buffer.from(hkdfSync('sha256', Buffer.from(SECRET, 'utf8'), 'nginx-authz session store', 'nginx-authz-session-at-rest', 32));

function sealedElsewhere(plaintext: string, keyName: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', KEY, iv);
  cipher.setAAD(Buffer.from(keyName, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `v1.${Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url')}`;
}

function openElsewhere(value: string, keyName: string): string {
  const raw = Buffer.from(value.slice(3), 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', KEY, raw.subarray(0, 12));
  decipher.setAAD(Buffer.from(keyName, 'utf8'));
  decipher.setAuthTag(raw.subarray(raw.length - 16));
  return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString('utf8');
}

describe('AtRestSealer, the record format', () => {
  const sealer = new AtRestSealer(SECRET);

  it('opens a record sealed with the documented parameters, and seals one they open', () => {
    expect(sealer.open(sealedElsewhere('{"t":"x"}', 'p:s:1'), 'p:s:1')).toBe('{"t":"x"}');
    const sealed = sealer.seal('{"t":"y"}', 'p:s:1');
    expect(sealed.startsWith('v1.')).toBe(true);
    expect(openElsewhere(sealed, 'p:s:1')).toBe('{"t":"y"}');
    // iv 12 + ciphertext (as long as the plaintext) + tag 16
    expect(Buffer.from(sealed.slice(3), 'base64url')).toHaveLength(12 + 9 + 16);
  });

  it('round-trips text beyond ASCII (tokens and claims are UTF-8)', () => {
    const text = '{"name":"Zoë Ångström","city":"東京"}';
    expect(sealer.open(sealer.seal(text, 'p:s:1'), 'p:s:1')).toBe(text);
    expect(openElsewhere(sealer.seal(text, 'p:s:1'), 'p:s:1')).toBe(text);
  });

  it('round-trips an empty record: 28 bytes (iv and tag) is the shortest valid value', () => {
    const sealed = sealer.seal('', 'p:s:1');
    expect(Buffer.from(sealed.slice(3), 'base64url')).toHaveLength(28);
    expect(sealer.open(sealed, 'p:s:1')).toBe('');
  });

  it('reads only the v1 format: the same bytes under another version prefix do not open', () => {
    const sealed = sealer.seal('x', 'p:s:1');
    expect(sealer.open(`v2.${sealed.slice(3)}`, 'p:s:1')).toBeUndefined();
    expect(sealer.open(`xx${sealed.slice(2)}`, 'p:s:1')).toBeUndefined();
    expect(sealer.open(sealed.slice(3), 'p:s:1')).toBeUndefined();
  });

  it('gives undefined, never throws, for values too short to hold an iv and a tag', () => {
    for (const length of [0, 1, 12, 16, 27]) {
      expect(sealer.open(`v1.${Buffer.alloc(length, 7).toString('base64url')}`, 'p:s:1')).toBeUndefined();
    }
  });
});
