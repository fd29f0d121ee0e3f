/**
 * Reported defect (CI, tests/integration/control-api/audit.test.ts, seen in four CI runs, always
 * early on a fresh database): /audit/verify called an intact keyed chain broken, `mac_mismatch` at
 * its first entry. In the failed run the organization's entries had ids 7 to 11. The keyed
 * walk selected `id::text AS id` and ordered by `id`. PostgreSQL resolves that name to the output
 * column, so it sorted the ids as text: 10, 11, 7, 8, 9. Entry 10 was checked against the genesis
 * mac. The walk now orders by audit_log.id.
 *
 * Performed here: the audit id sequence is moved just below the next power of ten, so one
 * organization's five entries cross a digit boundary. Afterwards the test's entries are removed
 * and the sequence is set back to the highest id in use, so repeated runs on one database do not
 * multiply the ids by ten each time.
 */
import type { Knex } from 'knex';
import { createDatabase } from '../../connectors/postgres/db';
import { appendAudit, auditKeyRing } from '../../connectors/postgres/audit';
import { verifyAuditChain } from '../../connectors/postgres/audit-query';
import { testEnv, uniqueId } from '../support/env';

describe('regression: verifying a keyed audit chain whose ids cross a digit boundary', () => {
  let db: Knex;

  beforeAll(async () => {
    db = createDatabase({ url: testEnv.databaseUrl, poolMax: 2 });
  });

  afterAll(async () => {
    await db.destroy();
  });

  it('when the entries have ids like 98, 99, 100, 101, 102, then the intact chain verifies', async () => {
    const ring = auditKeyRing();
    expect(ring).toBeDefined(); // deploy/local/env.sh sets PEMS_SYNC_AUDIT_KEYS
    const org = uniqueId('AUDITDIGITS');
    await db('organization').insert({ id: org, name: 'audit ids across a digit boundary', sync_enabled: false });
    // Only forward: ids already taken stay unique.
    const next = Number((await db.raw(`SELECT last_value + 1 AS next FROM audit_log_id_seq`)).rows[0].next);
    const boundary = 10 ** String(next + 2).length;
    await db.raw(`SELECT setval(pg_get_serial_sequence('audit_log', 'id'), ?::bigint)`, [boundary - 3]);

    await appendAudit(
      db,
      [1, 2, 3, 4, 5].map((n) => ({
        organizationId: org,
        pfaId: `PFA-${n}`,
        actor: 'audit-digits',
        eventType: 'sync.write',
        details: { n },
        pemsResponse: n % 2 ? { ok: true } : undefined,
      })),
      ring,
    );
    const ids = (await db('audit_log').where({ organization_id: org }).orderBy('id').select('id')).map((r) =>
      String(r.id),
    );
    expect(ids.map((id) => id.length)).toEqual([
      String(boundary - 2).length,
      String(boundary - 2).length,
      String(boundary).length,
      String(boundary).length,
      String(boundary).length,
    ]);

    try {
      const check = await verifyAuditChain(db, org, ring);
      expect(check).toMatchObject({
        entries: 5,
        ok: true,
        firstBroken: null,
        keyed: { signedEntries: 5, firstBroken: null, headValid: true },
      });
    } finally {
      // The append-only guard off for this transaction only: other sessions never see it off.
      await db.transaction(async (tx) => {
        await tx.raw('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
        await tx('audit_log').where({ organization_id: org }).delete();
        await tx.raw('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
        await tx('audit_chain_head').where({ organization_id: org }).delete();
      });
      // Never below an id in use (another writer's entry meanwhile keeps it high).
      await db.raw(
        `SELECT setval(pg_get_serial_sequence('audit_log', 'id'), GREATEST((SELECT max(id) FROM audit_log), 1))`,
      );
    }
  });
});
