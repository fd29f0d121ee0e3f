/**
 * Regression (issue 13, item 2): with the role every service uses, one could disable the
 * append-only trigger, rewrite an entry, re-chain it and the entries after it with the
 * trigger's own formula, update the chain head, and /audit/verify said ok. Fields were joined
 * with an unescaped '|', TRUNCATE was not covered and an empty chain with no head verified.
 * Now the chain is keyed (HMAC with audit.keys, which the database never holds): the exact
 * attack is detected and the first altered entry named.
 */
import type { Knex } from 'knex';
import { appendAudit } from '../../connectors/postgres/audit';
import { verifyAuditChain } from '../../connectors/postgres/audit-query';
import { parseAuditKeys } from '../../streams/audit-mac';
import { call, createOrg, harness, type Harness } from '../integration/control-api/harness';

/** The trigger's unkeyed formula (migration 002), as the attacker has it. */
const TRIGGER_HASH = `encode(sha256(convert_to(
  prev_hash || '|' || id::text || '|' || organization_id || '|' || coalesce(pfa_id, '') || '|' ||
  coalesce(modification_id::text, '') || '|' || actor || '|' || event_type || '|' ||
  details::text || '|' || coalesce(pems_response::text, '') || '|' ||
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), 'UTF8')), 'hex')`;

/** Exactly the reported attack, as the role the services use: trigger off, rewrite, re-chain, head updated. */
async function rewriteAndRechain(db: Knex, org: string, id: string, change: Record<string, unknown>): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.raw('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
    await tx('audit_log').where({ id }).update(change);
    const rows = await tx('audit_log')
      .where({ organization_id: org })
      .orderBy([{ column: 'created_at' }, { column: 'id' }])
      .select('id');
    let prev = '0'.repeat(64);
    for (const r of rows) {
      await tx.raw(`UPDATE audit_log SET prev_hash = ? WHERE id = ?`, [prev, r.id]);
      const [{ hash }] = (
        await tx.raw(`UPDATE audit_log SET hash = ${TRIGGER_HASH} WHERE id = ? RETURNING hash`, [r.id])
      ).rows;
      prev = hash;
    }
    await tx('audit_chain_head').where({ organization_id: org }).update({ last_hash: prev });
    await tx.raw('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
  });
}

describe('regression: the audit chain cannot be rewritten by someone without the audit key', () => {
  let h: Harness;

  beforeAll(async () => {
    expect(process.env.PEMS_SYNC_AUDIT_KEYS).toBeTruthy(); // deploy/local/env.sh sets a local key
    h = await harness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('when an entry is rewritten, the chain re-hashed with the trigger formula and the head updated, then verify names that entry', async () => {
    const t = await createOrg(h.db, 'TAMPERK');
    await appendAudit(
      h.db,
      [1, 2, 3, 4, 5].map((n) => ({
        organizationId: t.id,
        pfaId: `PFA-${n}`,
        actor: t.syncer,
        eventType: 'sync.write',
        details: { n },
      })),
    );
    const ok = await call(h, t.reader, 'GET', `/audit/verify?organization=${t.id}`);
    expect(ok.json()).toMatchObject({
      ok: true,
      entries: 5,
      keyed: { signedEntries: 5, firstBroken: null, headValid: true },
    });

    const rows = await h.db('audit_log').where({ organization_id: t.id }).orderBy('id');
    await rewriteAndRechain(h.db, t.id, rows[2].id, { details: JSON.stringify({ n: 300 }) });
    const verdict = (await call(h, t.reader, 'GET', `/audit/verify?organization=${t.id}`)).json();
    // The unkeyed chain is consistent again (that was the hole); the keyed one names entry 3.
    expect(verdict).toMatchObject({
      ok: false,
      headMatches: true,
      firstBroken: { id: String(rows[2].id), problem: 'mac_mismatch' },
    });
    expect(verdict.keyed).toMatchObject({
      signedEntries: 2,
      firstBroken: { id: String(rows[2].id), problem: 'mac_mismatch' },
    });
  });

  it("when '|' moves between two fields (the old encoding's ambiguity), then the sha256 still matches but the mac does not", async () => {
    const t = await createOrg(h.db, 'PIPEAMB');
    await appendAudit(h.db, [
      { organizationId: t.id, actor: t.syncer, eventType: 'sync.write', details: {} },
      { organizationId: t.id, actor: 'x|y', eventType: 'z', details: {} },
    ]);
    const rows = await h.db('audit_log').where({ organization_id: t.id }).orderBy('id');
    await h.db.transaction(async (tx) => {
      await tx.raw('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
      await tx('audit_log').where({ id: rows[1].id }).update({ actor: 'x', event_type: 'y|z' });
      await tx.raw('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
    });
    const after = await h
      .db('audit_log')
      .where({ id: rows[1].id })
      .first(h.db.raw(`${TRIGGER_HASH} AS recomputed`), 'hash');
    expect(after.recomputed).toBe(after.hash); // the unkeyed hash cannot tell
    const verdict = await verifyAuditChain(h.db, t.id);
    expect(verdict).toMatchObject({ ok: false, firstBroken: { id: String(rows[1].id), problem: 'mac_mismatch' } });
  });

  it('when the tail is deleted and the head moved back to an earlier entry, then verify fails on the head', async () => {
    const t = await createOrg(h.db, 'TAILCUT');
    await appendAudit(
      h.db,
      [1, 2, 3, 4].map((n) => ({ organizationId: t.id, actor: t.syncer, eventType: 'sync.write', details: { n } })),
    );
    const rows = await h.db('audit_log').where({ organization_id: t.id }).orderBy('id');
    await h.db.transaction(async (tx) => {
      await tx.raw('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
      await tx('audit_log').whereIn('id', [rows[2].id, rows[3].id]).delete();
      await tx('audit_chain_head')
        .where({ organization_id: t.id })
        .update({ last_id: rows[1].id, last_hash: rows[1].hash, last_mac: rows[1].mac });
      await tx.raw('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
    });
    const verdict = await verifyAuditChain(h.db, t.id);
    expect(verdict).toMatchObject({
      ok: false,
      headMatches: true,
      keyed: { signedEntries: 2, firstBroken: null, headValid: false },
    });
  });

  it('when someone truncates the log, then the database refuses; an organization with no entries and no head does not verify', async () => {
    await expect(h.db.raw('TRUNCATE audit_log')).rejects.toThrow(/append-only \(TRUNCATE refused\)/);
    await expect(h.db.raw('TRUNCATE audit_chain_head CASCADE')).rejects.toThrow(/TRUNCATE refused/);
    const empty = await createOrg(h.db, 'NOCHAIN');
    const verdict = (await call(h, empty.reader, 'GET', `/audit/verify?organization=${empty.id}`)).json();
    expect(verdict).toMatchObject({ ok: false, entries: 0, empty: true });
  });

  it('when the audit key rotates, then entries signed with the old key verify while it is listed, and name it when it is gone', async () => {
    const t = await createOrg(h.db, 'ROTATE');
    const oldKey = 'old:' + Buffer.alloc(32, 7).toString('base64');
    const newKey = 'new:' + Buffer.alloc(32, 9).toString('base64');
    await appendAudit(
      h.db,
      [1, 2].map((n) => ({ organizationId: t.id, actor: t.syncer, eventType: 'sync.write', details: { n } })),
      parseAuditKeys(oldKey),
    );
    await appendAudit(
      h.db,
      [3, 4].map((n) => ({ organizationId: t.id, actor: t.syncer, eventType: 'sync.write', details: { n } })),
      parseAuditKeys(`${newKey},${oldKey}`),
    );
    expect(await verifyAuditChain(h.db, t.id, parseAuditKeys(`${newKey},${oldKey}`))).toMatchObject({
      ok: true,
      keyed: { signedEntries: 4, headValid: true },
    });
    const rows = await h.db('audit_log').where({ organization_id: t.id }).orderBy('id');
    expect(rows.map((r) => r.mac_key_id)).toEqual(['old', 'old', 'new', 'new']);
    expect(await verifyAuditChain(h.db, t.id, parseAuditKeys(newKey))).toMatchObject({
      ok: false,
      firstBroken: { id: String(rows[0].id), problem: 'unknown_key' },
    });
    // A key of the right id but other bytes (an attacker's guess) does not verify.
    expect(
      await verifyAuditChain(
        h.db,
        t.id,
        parseAuditKeys(`new:${Buffer.alloc(32, 1).toString('base64')},old:${Buffer.alloc(32, 2).toString('base64')}`),
      ),
    ).toMatchObject({ ok: false, firstBroken: { id: String(rows[0].id), problem: 'mac_mismatch' } });
  });
});
