/**
 * Organization credentials at rest: AES-256-GCM, keys from PEMS_SYNC_CREDENTIAL_KEYS.
 *
 *   PEMS_SYNC_CREDENTIAL_KEYS='k2:<base64 32 bytes>,k1:<base64 32 bytes>'
 *
 * The first key encrypts; every listed key decrypts, so rotation is: put the new key first, keep
 * the old one until every ciphertext was re-encrypted (needsReencryption), then drop it.
 * Ciphertext: 'v2:<keyId>:<iv b64>:<tag b64>:<data b64>'. The GCM additional data is
 * 'v2:<keyId>:<organizationId>', so swapping the key id or version fails authentication, and so
 * does one organization's ciphertext copied into another organization's row.
 * The older 'v1' format bound only 'v1:<keyId>': it still decrypts (so a running deployment keeps
 * working), needsReencryption says yes, and `pems-sync credentials rotate` rewrites it as v2.
 * Plaintext exists only in memory, inside a Secret that prints as '***'.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { ConfigError, PemsSyncError } from '../../streams/errors';

export const CREDENTIAL_KEYS_ENV = 'PEMS_SYNC_CREDENTIAL_KEYS';
const VERSION = 'v2';
/** Before ciphertexts were bound to their organization: decrypt only, to migrate. */
const LEGACY_VERSION = 'v1';
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
  for (const part of raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const sep = part.indexOf(':');
    const id = sep > 0 ? part.slice(0, sep) : '';
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(id))
      throw new ConfigError(envName, `entry '${id || '?'}' needs an id of letters, digits, '_' or '-' before ':'`);
    const key = Buffer.from(part.slice(sep + 1), 'base64');
    if (key.length !== 32)
      throw new ConfigError(envName, `key '${id}' must be 32 bytes of base64 (got ${key.length} bytes)`);
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

/** The GCM additional data of a ciphertext: its version, key id and (from v2 on) organization. */
function additionalData(version: string, keyId: string, organizationId: string): Buffer {
  return Buffer.from(version === LEGACY_VERSION ? `${version}:${keyId}` : `${version}:${keyId}:${organizationId}`);
}

/** Encrypts an organization's PEMS credential under the primary key, bound to that organization. */
export function encryptCredential(plaintext: string | Secret, ring: CredentialKeyRing, organizationId: string): string {
  const key = ring.keys.get(ring.primary);
  if (!key) throw new ConfigError(CREDENTIAL_KEYS_ENV, `primary key '${ring.primary}' is missing`);
  if (organizationId === '')
    throw new CredentialError('a credential is encrypted for an organization: the organization id is empty');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(additionalData(VERSION, ring.primary, organizationId));
  const text = plaintext instanceof Secret ? plaintext.reveal() : plaintext;
  const data = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
  const tag = cipher.getAuthTag();
  return [VERSION, ring.primary, iv.toString('base64'), tag.toString('base64'), data.toString('base64')].join(':');
}

function parts(ciphertext: string): { version: string; keyId: string; iv: Buffer; tag: Buffer; data: Buffer } {
  const p = ciphertext.split(':');
  if (p.length !== 5 || (p[0] !== VERSION && p[0] !== LEGACY_VERSION))
    throw new CredentialError(`not a ${VERSION} credential ciphertext`);
  const [version = '', keyId = '', iv = '', tag = '', data = ''] = p;
  return {
    version,
    keyId,
    iv: Buffer.from(iv, 'base64'),
    tag: Buffer.from(tag, 'base64'),
    data: Buffer.from(data, 'base64'),
  };
}

/** Format version and key id of a ciphertext (what `credentials rotate` reports), without decrypting. */
export function describeCredential(ciphertext: string): { version: string; keyId: string } {
  const { version, keyId } = parts(ciphertext);
  return { version, keyId };
}

/** Decrypts the credential of `organizationId`; a ciphertext made for another organization fails authentication. */
export function decryptCredential(ciphertext: string, ring: CredentialKeyRing, organizationId: string): Secret {
  const { version, keyId, iv, tag, data } = parts(ciphertext);
  const key = ring.keys.get(keyId);
  if (!key)
    throw new CredentialError(
      `credential was encrypted with key '${keyId}', which ${CREDENTIAL_KEYS_ENV} does not list`,
    );
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES)
    throw new CredentialError('credential ciphertext has a malformed iv or tag');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(additionalData(version, keyId, organizationId));
    decipher.setAuthTag(tag);
    const text = Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
    return new Secret(text);
  } catch (e) {
    // GCM's tag check failed: tampered, truncated or a different key under the same id.
    throw new CredentialError(
      `credential failed authentication (tampered, wrong key, or encrypted for another organization than ${organizationId})`,
      e,
    );
  }
}

/** True when the ciphertext is not under the primary key or still in the v1 format: re-encrypt it. */
export function needsReencryption(ciphertext: string, ring: CredentialKeyRing): boolean {
  const p = parts(ciphertext);
  return p.keyId !== ring.primary || p.version !== VERSION;
}

export function reencryptCredential(ciphertext: string, ring: CredentialKeyRing, organizationId: string): string {
  return encryptCredential(decryptCredential(ciphertext, ring, organizationId), ring, organizationId);
}

/** A v1 ciphertext as the earlier code wrote it (tests of the migration path only). */
export function encryptLegacyCredential(plaintext: string, ring: CredentialKeyRing): string {
  const key = ring.keys.get(ring.primary)!;
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(additionalData(LEGACY_VERSION, ring.primary, ''));
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [
    LEGACY_VERSION,
    ring.primary,
    iv.toString('base64'),
    cipher.getAuthTag().toString('base64'),
    data.toString('base64'),
  ].join(':');
}
