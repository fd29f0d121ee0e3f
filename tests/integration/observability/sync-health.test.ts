/**
 * The per-organization figures the alert rules read (connectors/observability/
 * sync-health-metrics.ts) against real Postgres: freshness of the oldest unsynced edit, counts by
 * status, the newest outcome, open conflicts and dead letters, and the audit chain's verification
 * turning 0 when an entry is altered (the chain is re-read when its head moves).
 */
import type { Knex } from 'knex';
import { Registry } from 'prom-client';
import { createSyncHealthMetrics, type SyncHealthMetrics } from '../../../connectors/observability';
import { appendAudit } from '../../../connectors/postgres/audit';
import { createDatabase } from '../../../connectors/postgres/db';
import { testEnv } from '../../support/env';
import { createOrg, seedConflict, type TestOrg } from '../control-api/harness';

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('per-organization figures from Postgres', () => {
  let db: Knex;
  let org: TestOrg;
  let health: SyncHealthMetrics | undefined;
  const registry = new Registry();

  beforeAll(async () => {
    db = createDatabase({ url: testEnv.databaseUrl, poolMax: 4 });
    org = await createOrg(db, 'HEALTH');
  });
  afterAll(async () => {
    health?.stop();
    await db.destroy();
  });

  it('reports freshness, statuses, last outcome, conflicts, dead letters and the audit chain; an altered entry turns the chain to 0', async () => {
    const base = {
      organization_id: org.id,
      user_id: org.syncer,
      delta: JSON.stringify({ notes: 'x' }),
      base_version: 1,
    };
    const twentyMinutesAgo = new Date(Date.now() - 20 * 60_000);
    await db('pfa_modification').insert([
      { ...base, pfa_id: 'P-1', sync_status: 'committed', committed_at: twentyMinutesAgo },
      { ...base, pfa_id: 'P-2', sync_status: 'syncing', committed_at: new Date() },
      { ...base, pfa_id: 'P-3', sync_status: 'failed', committed_at: twentyMinutesAgo },
      {
        ...base,
        pfa_id: 'P-4',
        sync_status: 'synced',
        committed_at: twentyMinutesAgo,
        synced_at: new Date(Date.now() - 60_000),
      },
    ]);
    await seedConflict(db, {
      org: org.id,
      pfaId: 'P-5',
      userId: org.syncer,
      delta: { notes: 'mine' },
      baseVersion: 1,
      pemsVersion: 2,
      fields: [{ field: 'notes', base: 'a', local: 'mine', pems: 'theirs' }],
    });
    await db('dead_letter').insert({
      organization_id: org.id,
      pfa_id: 'P-3',
      source_topic: `test.health.${org.id}`,
      source_partition: 0,
      source_offset: 1,
      reason: 'unrecoverable',
      error_code: 'PEMS_RULE',
      status: 'open',
    });
    await appendAudit(
      db,
      [1, 2, 3].map((n) => ({
        organizationId: org.id,
        pfaId: `P-${n}`,
        actor: org.syncer,
        eventType: 'sync.write',
        details: { n },
      })),
    );

    health = createSyncHealthMetrics(registry, { db, auditIntervalMs: 3_600_000 });
    await health.verifyAuditChains();
    const text = await registry.metrics();
    const o = `organization="${org.id}"`;
    expect(value(text, `pems_sync_unsynced_edits{${o}}`)).toBe(2);
    const age = value(text, `pems_sync_oldest_unsynced_edit_age_seconds{${o}}`)!;
    expect(age).toBeGreaterThan(19 * 60);
    expect(age).toBeLessThan(30 * 60);
    expect(value(text, `pems_sync_organization_modifications{${o},status="failed"}`)).toBe(1);
    expect(value(text, `pems_sync_organization_modifications{${o},status="committed"}`)).toBe(1);
    expect(value(text, `pems_sync_open_conflicts{${o}}`)).toBe(1);
    expect(value(text, `pems_sync_open_dead_letters{${o}}`)).toBe(1);
    expect(value(text, `pems_sync_organization_sync_enabled{${o}}`)).toBe(1);
    // The newest outcome is the synced edit's, a minute ago (or the conflict's modification, newer).
    expect(Date.now() / 1000 - value(text, `pems_sync_last_outcome_timestamp_seconds{${o}}`)!).toBeLessThan(120);
    expect(value(text, `pems_sync_audit_chain_ok{${o}}`)).toBe(1);
    expect(value(text, 'pems_sync_status_collector_ok')).toBe(1);

    // Someone with DDL rights alters an entry; the next entry moves the head, so the chain is re-read.
    const rows = await db('audit_log').where({ organization_id: org.id }).orderBy('id');
    await db.transaction(async (tx) => {
      await tx.raw('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
      await tx('audit_log')
        .where({ id: rows[1].id })
        .update({ details: JSON.stringify({ n: 200 }) });
      await tx.raw('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
    });
    await appendAudit(db, [
      { organizationId: org.id, pfaId: 'P-9', actor: org.syncer, eventType: 'sync.write', details: { n: 9 } },
    ]);
    await health.verifyAuditChains();
    expect(value(await registry.metrics(), `pems_sync_audit_chain_ok{${o}}`)).toBe(0);
  });
});
