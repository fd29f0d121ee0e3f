/**
 * `pems-sync org check ID`: does this organization's PEMS connection work, and if not, what
 * exactly to change. Settings first (the rules every PEMS client applies), then PEMS's /health,
 * one authenticated read (GET /pfa, one record) and the rate limit PEMS reports in its headers.
 * Requests go through the shared rate limiter, so a check never pushes a running sink over it.
 */
import { causeChain, PemsSyncError } from '../../streams/errors';
import { organizationPemsProblem, type OrganizationPemsProblem } from '../pems/organization-check';
import { getOrganization } from '../postgres/organizations';
import type { CliContext } from './context';
import { notFound } from './output';

export interface OrgCheck {
  check: 'settings' | 'health' | 'authenticated read' | 'rate limit';
  ok: boolean;
  detail: string;
}

export interface OrgCheckResult {
  organization: string;
  ok: boolean;
  checks: OrgCheck[];
}

const FIX: Record<OrganizationPemsProblem['setting'], string> = {
  organization: 'pems-sync org add',
  pems_base_url: 'pems-sync org update ID --pems-url https://...',
  pems_credential_encrypted: 'pems-sync org update ID --credential-file KEYFILE (or --credential-stdin)',
  'pems.allowInsecureHttp':
    'use an https:// URL (PEMS_SYNC_PEMS_ALLOW_INSECURE_HTTP=true is for a local simulator only)',
  'pems.allowedHosts': "add the host to PEMS_SYNC_PEMS_ALLOWED_HOSTS of every process, or fix the organization's URL",
  'pems.credentialKeys': 'set PEMS_SYNC_CREDENTIAL_KEYS (id:base64 of 32 bytes) as for the sink',
};

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/;

/** A failed PEMS call as one sentence saying what is wrong and what to change. */
export function explainPemsFailure(err: unknown, org: string): string {
  let code: string | undefined;
  for (const e of causeChain(err, 6)) {
    if (typeof e !== 'object' || e === null) break;
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string' && !c.startsWith('PEMS_SYNC_') && !c.startsWith('ERR_BAD_')) {
      code = c;
      break;
    }
  }
  const message = err instanceof Error ? err.message : String(err);
  if (code && TLS_CODES.test(code)) {
    return `the TLS certificate of PEMS is not trusted (${code}): set PEMS_SYNC_PEMS_CA_FILE to its CA certificate (PEM), or fix the server's certificate`;
  }
  if (err instanceof PemsSyncError) {
    switch (err.code) {
      case 'PEMS_SYNC_PEMS_UNAUTHORIZED':
        return `PEMS refused the credential (${message}): check the API key (pems-sync org update ${org} --credential-file KEYFILE), the tenant (--tenant) and that the key is for organization ${org}`;
      case 'PEMS_SYNC_PEMS_NOT_FOUND':
        return `PEMS answered 404 (${message}): the base URL's path is probably wrong (it ends before /pfa, e.g. https://host/api/pems)`;
      case 'PEMS_SYNC_PEMS_RATE_LIMITED':
        return `PEMS answered 429 (${message}): the credential's requests per second are used up, perhaps by another client; try again`;
      case 'PEMS_SYNC_PEMS_TRANSIENT':
        return code
          ? `PEMS could not be reached (${code}): check the host and port of the URL and that PEMS is running (${message})`
          : `PEMS failed (${message}): it answered with a server error; try again later`;
      default:
        return `PEMS answered unexpectedly: ${message}`;
    }
  }
  return message;
}

export async function checkOrganization(ctx: CliContext, id: string): Promise<OrgCheckResult> {
  const org = await getOrganization(ctx.db, id);
  if (!org) throw notFound(`organization ${id} does not exist`);
  const checks: OrgCheck[] = [];
  const done = (): OrgCheckResult => ({ organization: id, ok: checks.every((c) => c.ok), checks });
  const problem = organizationPemsProblem(
    { id, pems_base_url: org.pemsBaseUrl, pems_credential_encrypted: org.credentialEncrypted },
    ctx.config,
  );
  if (problem) {
    checks.push({
      check: 'settings',
      ok: false,
      detail: `${problem.setting}: ${problem.reason}; fix: ${FIX[problem.setting].replace('ID', id)}`,
    });
    return done();
  }
  const tenant = org.pemsTenant ?? '';
  if (tenant === '') {
    checks.push({
      check: 'settings',
      ok: false,
      detail: `pems_tenant: the organization has no PEMS tenant; fix: pems-sync org update ${id} --tenant TENANT`,
    });
    return done();
  }
  checks.push({
    check: 'settings',
    ok: true,
    detail: `${org.pemsBaseUrl} (tenant ${tenant}, credential decrypts for ${id})`,
  });

  const config = ctx.config;
  let lastHeaders: Record<string, string> = {};
  // A check of its own: no hidden retries, a shorter timeout, and PEMS's headers seen.
  const clients = ctx.pemsClients({
    retries: 0,
    timeoutMs: Math.min(config.pems.timeoutMs, 15_000),
    clientOverrides: {
      onResponse: (_status, headers) => {
        lastHeaders = headers;
      },
    },
  });
  const client = clients.clientFor({
    id,
    baseUrl: org.pemsBaseUrl!,
    tenant,
    credentialEncrypted: org.credentialEncrypted!,
  });
  try {
    const t0 = Date.now();
    try {
      const h = await client.health();
      checks.push({ check: 'health', ok: true, detail: `GET /health: ${h.status} in ${Date.now() - t0} ms` });
    } catch (e) {
      checks.push({ check: 'health', ok: false, detail: explainPemsFailure(e, id) });
      return done();
    }
    const t1 = Date.now();
    try {
      const page = await client.listChanged({ limit: 1 });
      checks.push({
        check: 'authenticated read',
        ok: true,
        detail: `GET /pfa as tenant ${tenant}: ${page.records.length === 0 ? 'no records yet' : 'records readable'} (${Date.now() - t1} ms)`,
      });
    } catch (e) {
      checks.push({ check: 'authenticated read', ok: false, detail: explainPemsFailure(e, id) });
      return done();
    }
    const limit = lastHeaders['x-ratelimit-limit'] ?? lastHeaders['ratelimit-limit'];
    const remaining = lastHeaders['x-ratelimit-remaining'] ?? lastHeaders['ratelimit-remaining'];
    const ours = `pems-sync keeps to ${config.pems.rateLimitPerSecond} requests/s per credential${config.redis.url ? ', shared by every instance through Redis' : ' (in-process: set PEMS_SYNC_REDIS_URL when more than one process calls PEMS)'}`;
    checks.push({
      check: 'rate limit',
      ok: true,
      detail: limit
        ? `PEMS reports a limit of ${limit}${remaining !== undefined ? `, ${remaining} left` : ''}; ${ours}`
        : `PEMS reports no rate-limit headers (its contract: 10 requests/s per credential); ${ours}`,
    });
    if (limit && Number(limit) > 0 && config.pems.rateLimitPerSecond > Number(limit)) {
      checks[checks.length - 1] = {
        check: 'rate limit',
        ok: false,
        detail: `PEMS reports ${limit}, but PEMS_SYNC_PEMS_RATE_LIMIT is ${config.pems.rateLimitPerSecond}: lower it`,
      };
    }
    return done();
  } finally {
    await clients.close();
  }
}
