/**
 * What the check stage needs to know about organizations and users, loaded from Postgres:
 * whether an organization has sync enabled, its PEMS client (credential decrypted in memory
 * only), and whether a user still holds perm_Sync there. Organizations are cached for a short
 * time; permissions are read fresh for every round, because a revoked right must stop the
 * next write.
 */
import type { Knex } from 'knex';
import type Redis from 'ioredis';
import type { Registry } from 'prom-client';
import { PemsClient, organizationPemsProblem, type OrganizationPemsProblem } from '../pems';
import { MISSING_CREDENTIAL_KEYS, PemsClientPool } from '../pems/pool';
import type { Config } from '../../schemas/config';
import { getOrganizations, syncPermittedMembers, type OrganizationRow } from '../postgres/organizations';

export interface OrganizationContext {
  id: string;
  syncEnabled: boolean;
  /** Null when the organization is not configured for PEMS (no URL or credential). */
  client: PemsClient | null;
  /** Why there is no client, for the rejection message. */
  problem: string | null;
}

export interface ContextOptions {
  db: Knex;
  config: Config;
  redis?: Redis | null;
  registry?: Registry;
  /**
   * How long an organization's row is reused without reading it again, ms. Default 0: the row is
   * read every round (one primary-key query) so a fixed organization is noticed at once; the PEMS
   * client is rebuilt only when URL, tenant or credential changed.
   */
  cacheMs?: number;
  /** Called once each time an organization's PEMS configuration becomes unusable (the sink logs one warning). */
  onProblem?: (organizationId: string, problem: OrganizationPemsProblem) => void;
  /** Tests inject an http agent-level override (e.g. the simulator's CA) here. */
  clientOverrides?: Partial<ConstructorParameters<typeof PemsClient>[0]>;
}

interface Cached {
  at: number;
  ctx: OrganizationContext;
  fingerprint: string;
}

export class SyncContext {
  private readonly orgs = new Map<string, Cached>();
  private readonly pool: PemsClientPool;

  constructor(private readonly opts: ContextOptions) {
    // The sink counts and spaces its own attempts (5 s, 10 s, 20 s): no hidden retries below it.
    this.pool = PemsClientPool.fromConfig(opts.config, {
      redis: opts.redis ?? null,
      registry: opts.registry,
      retries: 0,
      clientOverrides: opts.clientOverrides,
    });
  }

  async organizations(ids: readonly string[]): Promise<Map<string, OrganizationContext>> {
    const now = Date.now();
    const out = new Map<string, OrganizationContext>();
    const stale = ids.filter((id) => {
      const c = this.orgs.get(id);
      if (c && now - c.at < (this.opts.cacheMs ?? 0)) {
        out.set(id, c.ctx);
        return false;
      }
      return true;
    });
    if (stale.length > 0) {
      const byId = new Map((await getOrganizations(this.opts.db, stale)).map((r) => [r.id, r]));
      for (const id of stale) {
        const row = byId.get(id);
        const ctx = await this.build(id, row);
        out.set(id, ctx);
      }
    }
    return out;
  }

  private async build(id: string, row: OrganizationRow | undefined): Promise<OrganizationContext> {
    const prev = this.orgs.get(id);
    if (!row) {
      const ctx = { id, syncEnabled: false, client: null, problem: `organization ${id} does not exist` };
      this.orgs.set(id, { at: Date.now(), ctx, fingerprint: '' });
      return ctx;
    }
    const url = row.pemsBaseUrl ?? '';
    const tenant = row.pemsTenant ?? '';
    const encrypted = row.credentialEncrypted ?? '';
    const fingerprint = `${url}|${tenant}|${encrypted}`;
    if (prev && prev.fingerprint === fingerprint) {
      const ctx = { ...prev.ctx, syncEnabled: row.syncEnabled };
      this.orgs.set(id, { at: Date.now(), ctx, fingerprint });
      return ctx;
    }
    let client: PemsClient | null = null;
    let problem: string | null = null;
    const unusable = organizationPemsProblem(
      { id, pems_base_url: url || null, pems_credential_encrypted: encrypted || null },
      this.opts.config,
    );
    if (unusable) {
      problem = `organization ${id}: ${unusable.setting}: ${unusable.reason}`;
      this.opts.onProblem?.(id, unusable);
      await this.pool.evict(id);
    } else if (!this.pool.canDecrypt) problem = MISSING_CREDENTIAL_KEYS;
    else {
      try {
        // The pool closes the client it replaces when URL, tenant or credential changed.
        client = this.pool.clientFor({ id, baseUrl: url, tenant, credentialEncrypted: encrypted });
      } catch (err) {
        problem = `organization ${id}: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    const ctx = { id, syncEnabled: row.syncEnabled, client, problem };
    this.orgs.set(id, { at: Date.now(), ctx, fingerprint });
    return ctx;
  }

  /** Users (of the given organization pairs) who hold perm_Sync there right now. */
  async syncPermissions(pairs: ReadonlyArray<{ userId: string; organizationId: string }>): Promise<Set<string>> {
    const out = new Set<string>();
    for (const r of await syncPermittedMembers(this.opts.db, pairs)) out.add(permissionKey(r.userId, r.organizationId));
    return out;
  }

  async close(): Promise<void> {
    this.orgs.clear();
    await this.pool.close();
  }
}

export function permissionKey(userId: string, organizationId: string): string {
  return `${userId}\u0000${organizationId}`;
}
