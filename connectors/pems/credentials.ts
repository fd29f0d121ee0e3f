/**
 * Organization credentials at rest: AES-256-GCM, keys from PEMS_SYNC_CREDENTIAL_KEYS.
 *
 *   PEMS_SYNC_CREDENTIAL_KEYS='k2:<base64 32 bytes>,k1:<base64 32 bytes>'
 *
 * The first key encrypts; every listed key decrypts, so rotation is: put the new key first, keep
 * the old one until every ciphertext was re-encrypted (needsReencryption), then drop it.
 * Ciphertext: 'v1:<keyId>:<iv b64>:<tag b64>:<data b64>'. The 'v1:<keyId>' prefix is bound as
 * GCM additional data, so swapping the key id or version of a ciphertext fails authentication.
 * Plaintext exists only in memory, inside a Secret that prints as '***'.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { ConfigError, PemsSyncError } from '../../streams/errors';

export const CREDENTIAL_KEYS_ENV = 'PEMS_SYNC_CREDENTIAL_KEYS';
const VERSION = 'v1';
const IV_BYTES = 12; // the GCM standard nonce size (NIST SP 800-38D)
const TAG_BYTES = 16;

/** A value that must never reach a log: every printing path shows '***'. */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The plaintext; call only where it is sent (an Authorization header). */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return '***';
  }

  toJSON(): string {
    return '***';
  }

  [inspect.custom](): string {
    return 'Secret(***)';
  }

  get [Symbol.toStringTag](): string {
    return 'Secret';
  }
}

export interface CredentialKeyRing {
  /** Id of the key that encrypts. */
  primary: string;
  keys: ReadonlyMap<string, Buffer>;
}

/** The credential could not be decrypted: wrong key, tampered, or not a ciphertext. */
export class CredentialError extends PemsSyncError {
  constructor(message: string, cause?: unknown) {
    super('PEMS_SYNC_CREDENTIAL_INVALID', message, { cause });
  }
}

export function parseCredentialKeys(raw: string | undefined, envName = CREDENTIAL_KEYS_ENV): CredentialKeyRing {
  if (!raw || raw.trim() === '') throw new ConfigError(envName, "is required: 'keyId:base64key[,keyId:base64key...]'");
  const keys = new Map<string, Buffer>();
  let primary: string | undefined;
  for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const sep = part.indexOf(':');
    const id = sep > 0 ? part.slice(0, sep) : '';
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(id)) throw new ConfigError(envName, `entry '${id || '?'}' needs an id of letters, digits, '_' or '-' before ':'`);
    const key = Buffer.from(part.slice(sep + 1), 'base64');
    if (key.length !== 32) throw new ConfigError(envName, `key '${id}' must be 32 bytes of base64 (got ${key.length} bytes)`);
    if (keys.has(id)) throw new ConfigError(envName, `key id '${id}' appears twice`);
    keys.set(id, key);
    primary ??= id;
  }
  if (!primary) throw new ConfigError(envName, 'lists no key');
  return { primary, keys };
}

export function loadCredentialKeys(env: NodeJS.ProcessEnv = process.env): CredentialKeyRing {
  return parseCredentialKeys(env[CREDENTIAL_KEYS_ENV]);
}

export function encryptCredential(plaintext: string | Secret, ring: CredentialKeyRing): string {
  const key = ring.keys.get(ring.primary);
  if (!key) throw new ConfigError(CREDENTIAL_KEYS_ENV, `primary key '${ring.primary}' is missing`);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(`${VERSION}:${ring.primary}`));
  const text = plaintext instanceof Secret ? plaintext.reveal() : plaintext;
  const data = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
  const tag = cipher.getAuthTag();
  return [VERSION, ring.primary, iv.toString('base64'), tag.toString('base64'), data.toString('base64')].join(':');
}

function parts(ciphertext: string): { keyId: string; iv: Buffer; tag: Buffer; data: Buffer } {
  const p = ciphertext.split(':');
  if (p.length !== 5 || p[0] !== VERSION) throw new CredentialError(`not a ${VERSION} credential ciphertext`);
  const [, keyId = '', iv = '', tag = '', data = ''] = p;
  return { keyId, iv: Buffer.from(iv, 'base64'), tag: Buffer.from(tag, 'base64'), data: Buffer.from(data, 'base64') };
}

export function decryptCredential(ciphertext: string, ring: CredentialKeyRing): Secret {
  const { keyId, iv, tag, data } = parts(ciphertext);
  const key = ring.keys.get(keyId);
  if (!key) throw new CredentialError(`credential was encrypted with key '${keyId}', which ${CREDENTIAL_KEYS_ENV} does not list`);
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new CredentialError('credential ciphertext has a malformed iv or tag');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(`${VERSION}:${keyId}`));
    decipher.setAuthTag(tag);
    const text = Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
    return new Secret(text);
  } catch (e) {
    // GCM's tag check failed: tampered, truncated or a different key under the same id.
    throw new CredentialError('credential failed authentication (tampered or wrong key)', e);
  }
}

/** True when the ciphertext is not under the primary key: re-encrypt it during rotation. */
export function needsReencryption(ciphertext: string, ring: CredentialKeyRing): boolean {
  return parts(ciphertext).keyId !== ring.primary;
}

export function reencryptCredential(ciphertext: string, ring: CredentialKeyRing): string {
  return encryptCredential(decryptCredential(ciphertext, ring), ring);
}
