import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { ConfigError } from '../../../../streams/errors';
import {
  CredentialError,
  decryptCredential,
  encryptCredential,
  describeCredential,
  encryptLegacyCredential,
  needsReencryption,
  parseCredentialKeys,
  reencryptCredential,
  Secret,
} from '../../../../connectors/pems/credentials';

const k1 = randomBytes(32).toString('base64');
const k2 = randomBytes(32).toString('base64');

describe('credentials', () => {
  it('when a credential is encrypted and decrypted, then the plaintext comes back in a Secret', () => {
    const ring = parseCredentialKeys(`k1:${k1}`);
    const ct = encryptCredential('api-key-RIO-123', ring, 'RIO');
    expect(ct).toMatch(/^v2:k1:[^:]+:[^:]+:[^:]+$/);
    expect(ct).not.toContain('api-key-RIO-123');
    const secret = decryptCredential(ct, ring, 'RIO');
    expect(secret).toBeInstanceOf(Secret);
    expect(secret.reveal()).toBe('api-key-RIO-123');
  });

  it('when the same plaintext is encrypted twice, then the ciphertexts differ (fresh iv)', () => {
    const ring = parseCredentialKeys(`k1:${k1}`);
    expect(encryptCredential('x', ring, 'RIO')).not.toBe(encryptCredential('x', ring, 'RIO'));
  });

  it('when a new key is put first, then it encrypts and old ciphertexts still decrypt (rotation)', () => {
    const old = parseCredentialKeys(`k1:${k1}`);
    const ctOld = encryptCredential('secret-1', old, 'RIO');
    const rotated = parseCredentialKeys(`k2:${k2},k1:${k1}`);
    expect(decryptCredential(ctOld, rotated, 'RIO').reveal()).toBe('secret-1');
    expect(needsReencryption(ctOld, rotated)).toBe(true);
    const ctNew = reencryptCredential(ctOld, rotated, 'RIO');
    expect(ctNew.startsWith('v2:k2:')).toBe(true);
    expect(needsReencryption(ctNew, rotated)).toBe(false);
    // Once k1 is retired the re-encrypted value still opens, the old one does not.
    const retired = parseCredentialKeys(`k2:${k2}`);
    expect(decryptCredential(ctNew, retired, 'RIO').reveal()).toBe('secret-1');
    expect(() => decryptCredential(ctOld, retired, 'RIO')).toThrow(CredentialError);
  });

  it.each([
    ['the data', 4],
    ['the tag', 3],
    ['the iv', 2],
  ])('when %s is tampered with, then decryption fails with PEMS_SYNC_CREDENTIAL_INVALID', (_what, index) => {
    const ring = parseCredentialKeys(`k1:${k1}`);
    const parts = encryptCredential('secret-value', ring, 'RIO').split(':');
    const buf = Buffer.from(parts[index] ?? '', 'base64');
    buf[0] = (buf[0] ?? 0) ^ 0x01;
    parts[index] = buf.toString('base64');
    expect(() => decryptCredential(parts.join(':'), ring, 'RIO')).toThrow(
      expect.objectContaining({ code: 'PEMS_SYNC_CREDENTIAL_INVALID' }),
    );
  });

  it('when the key id of a ciphertext is swapped to another valid key, then authentication fails', () => {
    const ring = parseCredentialKeys(`k2:${k2},k1:${k1}`);
    const ct = encryptCredential('secret', ring, 'RIO').replace(/^v2:k2:/, 'v2:k1:');
    expect(() => decryptCredential(ct, ring, 'RIO')).toThrow(CredentialError);
  });

  it("when one organization's ciphertext is copied into another organization's row, then it does not decrypt there", () => {
    const ring = parseCredentialKeys(`k1:${k1}`);
    const rio = encryptCredential('rio-key', ring, 'RIO');
    expect(decryptCredential(rio, ring, 'RIO').reveal()).toBe('rio-key');
    expect(() => decryptCredential(rio, ring, 'BEO')).toThrow(
      expect.objectContaining({ code: 'PEMS_SYNC_CREDENTIAL_INVALID' }),
    );
    expect(() => decryptCredential(rio, ring, 'BEO')).toThrow(/another organization than BEO/);
  });

  it('when a v1 ciphertext (not bound to its organization) is found, then it still decrypts, needs re-encryption, and re-encrypts as v2 bound to the organization', () => {
    const ring = parseCredentialKeys(`k1:${k1}`);
    const legacy = encryptLegacyCredential('old-key', ring);
    expect(describeCredential(legacy)).toEqual({ version: 'v1', keyId: 'k1' });
    expect(decryptCredential(legacy, ring, 'RIO').reveal()).toBe('old-key');
    expect(needsReencryption(legacy, ring)).toBe(true);
    const bound = reencryptCredential(legacy, ring, 'RIO');
    expect(describeCredential(bound)).toEqual({ version: 'v2', keyId: 'k1' });
    expect(needsReencryption(bound, ring)).toBe(false);
    expect(() => decryptCredential(bound, ring, 'BEO')).toThrow(CredentialError);
  });

  it('when the text is not a ciphertext, then CredentialError', () => {
    expect(() => decryptCredential('plain-api-key', parseCredentialKeys(`k1:${k1}`), 'RIO')).toThrow(CredentialError);
  });

  it.each([
    [undefined, 'PEMS_SYNC_CREDENTIAL_KEYS'],
    ['k1:c2hvcnQ=', '32 bytes'],
    [`:${k1}`, 'id'],
    [`k1:${k1},k1:${k2}`, 'twice'],
  ])('when the key list is %p, then a ConfigError names PEMS_SYNC_CREDENTIAL_KEYS', (raw, fragment) => {
    let thrown: unknown;
    try {
      parseCredentialKeys(raw);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).key).toBe('PEMS_SYNC_CREDENTIAL_KEYS');
    expect((thrown as Error).message).toContain(fragment);
  });

  it('when a Secret is printed, serialized, inspected or interpolated, then only *** shows', () => {
    const s = new Secret('hunter2-api-key');
    expect(String(s)).toBe('***');
    expect(`${s}`).toBe('***');
    expect(JSON.stringify({ apiKey: s })).toBe('{"apiKey":"***"}');
    expect(inspect({ apiKey: s }, { depth: 5, showHidden: true })).not.toContain('hunter2');
    expect(Object.keys(s)).toEqual([]);
  });
});
