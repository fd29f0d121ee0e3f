/** Fixtures shared by the suites. */
import { randomBytes } from 'node:crypto';

/** A fresh PEMS_SYNC_CREDENTIAL_KEYS value with one random 32-byte key named `id`. */
export function credentialKeys(id = 't1'): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}
