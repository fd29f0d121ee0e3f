/**
 * Where an organization's PEMS credential may be sent: a pure decision over its base URL.
 * https only (http only when pems.allowInsecureHttp is set, for a local simulator), no user
 * info in the URL, and, when pems.allowedHosts lists hosts, only to one of them. An entry is a
 * host name or address (`pems.example.com`, `127.0.0.1`) or a wildcard for the subdomains of
 * one domain (`*.eam.example.com`, which does not match `eam.example.com` itself). Host names
 * compare case-insensitively; ports are not part of the rule.
 */

export interface PemsUrlPolicy {
  allowInsecureHttp: boolean;
  /** Empty: any host (only the scheme is checked). */
  allowedHosts: readonly string[];
}

/** The setting a refusal is about, so a message can name what to change. */
export type PemsUrlSetting = 'pems_base_url' | 'pems.allowInsecureHttp' | 'pems.allowedHosts';

export type PemsUrlVerdict = { ok: true; url: URL } | { ok: false; setting: PemsUrlSetting; reason: string };

export function hostAllowed(host: string, allowedHosts: readonly string[]): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return allowedHosts.some((entry) => {
    const e = entry.trim().toLowerCase();
    if (e.startsWith('*.')) return h.endsWith(e.slice(1)) && h.length > e.length - 1;
    return e === h;
  });
}

export function checkPemsUrl(baseUrl: string, policy: PemsUrlPolicy): PemsUrlVerdict {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    return { ok: false, setting: 'pems_base_url', reason: `'${baseUrl}' is not a URL` };
  }
  if (url.protocol === 'http:' && !policy.allowInsecureHttp) {
    return {
      ok: false,
      setting: 'pems.allowInsecureHttp',
      reason: `${url.origin} is http://: PEMS URLs must be https:// (set PEMS_SYNC_PEMS_ALLOW_INSECURE_HTTP=true only for a local simulator)`,
    };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { ok: false, setting: 'pems_base_url', reason: `unsupported protocol ${url.protocol}` };
  if (url.username !== '' || url.password !== '')
    return { ok: false, setting: 'pems_base_url', reason: 'the URL must not carry a user name or password' };
  if (policy.allowedHosts.length > 0 && !hostAllowed(url.hostname, policy.allowedHosts)) {
    return {
      ok: false,
      setting: 'pems.allowedHosts',
      reason: `host ${url.hostname} is not in PEMS_SYNC_PEMS_ALLOWED_HOSTS (${policy.allowedHosts.join(', ')})`,
    };
  }
  return { ok: true, url };
}
