/**
 * Is an organization's PEMS configuration usable, before any request? The same rules every PEMS
 * client applies (streams/pems-url: https, pems.allowedHosts) plus a credential that decrypts
 * for this organization under PEMS_SYNC_CREDENTIAL_KEYS. Used by the control API's /status, the
 * sink's one warning per misconfigured organization and `pems-sync org check`.
 */
import type { Config } from '../../schemas/config';
import { checkPemsUrl } from '../../streams/pems-url';
import { decryptCredential, parseCredentialKeys } from './credentials';

export interface OrganizationPemsRow {
  id: string;
  pems_base_url: string | null;
  pems_credential_encrypted: string | null;
}

export interface OrganizationPemsProblem {
  /** What to change: a column of the organization or a setting of the process. */
  setting:
    | 'organization'
    | 'pems_base_url'
    | 'pems_credential_encrypted'
    | 'pems.allowInsecureHttp'
    | 'pems.allowedHosts'
    | 'pems.credentialKeys';
  reason: string;
}

export function organizationPemsProblem(
  org: OrganizationPemsRow | undefined,
  config: Pick<Config, 'pems'>,
): OrganizationPemsProblem | null {
  if (!org) return { setting: 'organization', reason: 'the organization does not exist' };
  if (!org.pems_base_url) return { setting: 'pems_base_url', reason: 'the organization has no PEMS base URL' };
  const url = checkPemsUrl(org.pems_base_url, {
    allowInsecureHttp: config.pems.allowInsecureHttp,
    allowedHosts: config.pems.allowedHosts,
  });
  if (!url.ok) return { setting: url.setting, reason: url.reason };
  if (!org.pems_credential_encrypted)
    return { setting: 'pems_credential_encrypted', reason: 'the organization has no PEMS credential' };
  if (config.pems.credentialKeys === '')
    return {
      setting: 'pems.credentialKeys',
      reason: 'PEMS_SYNC_CREDENTIAL_KEYS is not set: credentials cannot be decrypted',
    };
  try {
    decryptCredential(org.pems_credential_encrypted, parseCredentialKeys(config.pems.credentialKeys), org.id);
  } catch (e) {
    return { setting: 'pems_credential_encrypted', reason: (e as Error).message };
  }
  return null;
}
