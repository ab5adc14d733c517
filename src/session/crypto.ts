import { hkdfSync, randomBytes } from 'node:crypto';
import { EncryptJWT, jwtDecrypt, errors as joseErrors, type JWTPayload } from 'jose';

/**
 * Encrypted, integrity-protected cookie values: a JWE (`dir` + A256GCM, RFC 7516/7518) whose
 * key is derived with HKDF-SHA256 (RFC 5869) from the configured secret, one key per purpose
 * (`info`), so a login-state cookie can never be replayed as a session cookie.
 */
export class CookieSealer {
  private readonly key: Uint8Array;

  /**
   * @param secret the configured `session.secret`; undefined: a random key for this process
   * @param purpose HKDF `info` and the JWE `typ`: keeps each cookie kind's key apart
   */
  constructor(
    secret: string | undefined,
    private readonly purpose: string,
  ) {
    const material = secret === undefined ? randomBytes(32) : Buffer.from(secret, 'utf8');
    this.key = new Uint8Array(hkdfSync('sha256', material, 'nginx-authz cookie', purpose, 32));
  }

  /** Encrypts `claims`, readable until `expiresAtMs`. */
  seal(claims: JWTPayload, expiresAtMs: number): Promise<string> {
    return new EncryptJWT(claims)
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', typ: this.purpose })
      .setIssuedAt()
      .setExpirationTime(Math.floor(expiresAtMs / 1000))
      .encrypt(this.key);
  }

  /**
   * Decrypts and checks expiry; undefined for anything else (tampered, wrong key, expired,
   * malformed): a bad cookie is the same as no cookie. jose's errors end here.
   */
  async open(value: string, nowMs: number): Promise<JWTPayload | undefined> {
    try {
      const { payload } = await jwtDecrypt(value, this.key, {
        typ: this.purpose,
        keyManagementAlgorithms: ['dir'],
        contentEncryptionAlgorithms: ['A256GCM'],
        currentDate: new Date(nowMs),
      });
      return payload;
    } catch (error) {
      if (error instanceof joseErrors.JOSEError || error instanceof TypeError) return undefined;
      throw error;
    }
  }
}

/** A random identifier (session ids, PKCE state): 256 bits, base64url. */
export function randomId(): string {
  return randomBytes(32).toString('base64url');
}
