import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const VERSION = 'v1.';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Encrypts session records kept in Redis: AES-256-GCM with a key derived by HKDF-SHA256 from
 * `session.secret` (its own `info`, so it differs from the cookie keys), and the Redis key name
 * as additional data, so a record copied under another session's key does not open. A Redis
 * dump shows `v1.` + base64url(iv | ciphertext | tag): no token, no claim, no session id.
 */
export class AtRestSealer {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), 'nginx-authz session store', 'nginx-authz-session-at-rest', 32));
  }

  seal(plaintext: string, keyName: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(keyName, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return VERSION + Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
  }

  /** The plaintext, or undefined for anything that does not open (tampered, other key, other key name, malformed). */
  open(value: string, keyName: string): string | undefined {
    if (!value.startsWith(VERSION)) return undefined;
    const raw = Buffer.from(value.slice(VERSION.length), 'base64url');
    if (raw.length < IV_BYTES + TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(keyName, 'utf8'));
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }
}
