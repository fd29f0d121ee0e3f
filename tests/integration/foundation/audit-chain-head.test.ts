/**
 * The audit chain's head row is written once per statement (migration 019), and the chain stays
 * exactly what it was: every entry linked to the one before it in its organization, the head
 * naming the last. Performed on the real Postgres with the real triggers: one transaction of
 * many statements and two organizations, a rolled-back savepoint, concurrent writers, and
 * writers without the audit key (the plain multi-row insert).
 */
import type { Knex } from 'knex';
import { createDatabase } from '../../../connectors/postgres/db';
import { appendAudit, auditKeyRing, type AuditEntry } from '../../../connectors/postgres/audit';
import { verifyAuditChain } from '../../../connectors/postgres/audit-query';
import { testEnv, uniqueId } from '../../support/env';

function entries(org: string, n: number, tag: string): AuditEntry[] {
  return Array.from({ length: n }, (_, i) => ({
    organizationId: org,
    pfaId: `PFA-${tag}-${i}`,
    actor: 'system:test',
    eventType: 'sync.write',
    details: { tag, i },
    pemsResponse: i % 2 ? { ok: true, version: i } : undefined,
  }));
}

describe('audit chain head, written once per statement', () => {
  let db: Knex;
  const ring = auditKeyRing();

  async function organization(label: string): Promise<string> {
    const org = uniqueId('AUDHEAD');
    await db('organization').insert({ id: org, name: `audit head: ${label}`, sync_enabled: false });
    return org;
  }

  /** The head names the organization's last entry in chain order. */
  async function expectHeadOnLast(org: string): Promise<void> {
    const last = await db('audit_log')
      .where({ organization_id: org })
      .orderBy([
        { column: 'created_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .first('id', 'hash');
    const head = await db('audit_chain_head').where({ organization_id: org }).first('last_id', 'last_hash');
    expect(head).toEqual({ last_id: last.id, last_hash: last.hash });
  }

  beforeAll(() => {
    db = createDatabase({ url: testEnv.databaseUrl, poolMax: 6 });
    expect(ring).toBeDefined(); // deploy/local/env.sh sets PEMS_SYNC_AUDIT_KEYS
  });

  afterAll(async () => {
    await db.destroy();
  });

  it('when a flush of 200 entries is appended, then the head row gets a few writes, not one per entry', async () => {
    const org = await organization('one flush');
    const updates = await db.transaction(async (tx) => {
      await appendAudit(tx, entries(org, 200, 'flush'), ring);
      // This transaction's own statistics: its writes only, counted as they happen.
      const r = await tx.raw(`SELECT n_tup_upd AS n FROM pg_stat_xact_user_tables WHERE relname = 'audit_chain_head'`);
      return Number((r.rows[0] as { n: string }).n);
    });
    // The keyed writer's lock, the statement's head write and the head mac: 3 (before: 203).
    expect(updates).toBeLessThanOrEqual(3);
    await expect(verifyAuditChain(db, org, ring)).resolves.toMatchObject({ entries: 200, ok: true, headMatches: true });
    await expectHeadOnLast(org);
  });

  it('when one transaction appends for two organizations in several statements, then both chains verify and each head names its last entry', async () => {
    const a = await organization('a');
    const b = await organization('b');
    await db.transaction(async (tx) => {
      await appendAudit(tx, [...entries(a, 3, 's1'), ...entries(b, 2, 's1')], ring);
      await appendAudit(tx, entries(b, 4, 's2'), ring);
      await appendAudit(tx, [...entries(b, 1, 's3'), ...entries(a, 5, 's3')], ring);
    });
    await expect(verifyAuditChain(db, a, ring)).resolves.toMatchObject({ entries: 8, ok: true, firstBroken: null });
    await expect(verifyAuditChain(db, b, ring)).resolves.toMatchObject({ entries: 7, ok: true, firstBroken: null });
    await expectHeadOnLast(a);
    await expectHeadOnLast(b);
  });

  it('when a savepoint with entries is rolled back, then the entries after it chain onto the ones before it', async () => {
    const org = await organization('savepoint');
    await db.transaction(async (tx) => {
      await appendAudit(tx, entries(org, 2, 'kept'), ring);
      await expect(
        tx.transaction(async (sp) => {
          await appendAudit(sp, entries(org, 3, 'undone'), ring);
          throw new Error('roll the savepoint back');
        }),
      ).rejects.toThrow('roll the savepoint back');
      await appendAudit(tx, entries(org, 2, 'after'), ring);
    });
    const check = await verifyAuditChain(db, org, ring);
    expect(check).toMatchObject({ entries: 4, ok: true, firstBroken: null, headMatches: true });
    const tags = (await db('audit_log').where({ organization_id: org }).orderBy('id').select('details')).map(
      (r) => (r.details as { tag: string }).tag,
    );
    expect(tags).toEqual(['kept', 'kept', 'after', 'after']);
    await expectHeadOnLast(org);
  });

  it('when five writers append to one organization at once, then the chain holds every entry in one line', async () => {
    const org = await organization('concurrent');
    await Promise.all(
      Array.from({ length: 5 }, (_, w) =>
        db.transaction(async (tx) => {
          for (let s = 0; s < 3; s++) {
            await appendAudit(tx, entries(org, 4, `w${w}s${s}`), ring);
            await new Promise((r) => setTimeout(r, 5));
          }
        }),
      ),
    );
    await expect(verifyAuditChain(db, org, ring)).resolves.toMatchObject({ entries: 60, ok: true, firstBroken: null });
    await expectHeadOnLast(org);
  });

  it('when writers without the audit key insert several rows per statement, then the sha256 chain verifies', async () => {
    const org = await organization('unkeyed');
    await Promise.all([
      appendAudit(db, entries(org, 30, 'u1'), undefined),
      appendAudit(db, entries(org, 30, 'u2'), undefined),
      db.transaction(async (tx) => {
        await appendAudit(tx, entries(org, 10, 'u3'), undefined);
        await appendAudit(tx, entries(org, 10, 'u4'), undefined);
      }),
    ]);
    await expect(verifyAuditChain(db, org, undefined)).resolves.toMatchObject({
      entries: 80,
      ok: true,
      firstBroken: null,
      headMatches: true,
    });
    await expectHeadOnLast(org);
  });
});
