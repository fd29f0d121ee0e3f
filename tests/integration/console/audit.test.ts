/**
 * The audit screen over real HTTP: filters in the URL, paging, export of exactly what is
 * filtered (CSV and NDJSON), and "verify chain" naming the first broken entry after tampering.
 */
import { appendAudit } from '../../../connectors/postgres/audit';
import { createOrg, harness, token, type Harness, type TestOrg } from '../control-api/harness';
import { ConsoleClient } from './client';

describe('console: audit', () => {
  let h: Harness;
  let org: TestOrg;

  beforeAll(async () => {
    h = await harness({ config: { console: { secureCookies: false } } });
    org = await createOrg(h.db, 'CAUD');
    const entries = Array.from({ length: 60 }, (_, i) => ({
      organizationId: org.id,
      pfaId: i % 2 === 0 ? 'PFA-EVEN' : 'PFA-ODD',
      actor: i < 55 ? org.syncer : org.admin1,
      eventType: i % 3 === 0 ? 'conflict.resolved' : 'sync.synced',
      details: { n: i, note: '<script>alert(1)</script>' },
    }));
    for (const e of entries) await appendAudit(h.db, e);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('filters and pages, and exports exactly the filtered entries as CSV and NDJSON', async () => {
    const c = new ConsoleClient(h.url);
    await c.signInWithToken(await token(org.reader));
    const all = await c.get(`/console/audit?organization=${org.id}`);
    expect(all.status).toBe(200);
    expect(all.body.match(/id="audit-/g)).toHaveLength(50);
    expect(all.body).not.toContain('<script>alert(1)');
    const next = /href="(\/console\/audit\?[^"]*before=\d+)" rel="next"/.exec(all.body)![1]!.replace(/&amp;/g, '&');
    const older = await c.get(next);
    expect(older.body.match(/id="audit-/g)).toHaveLength(10);

    const filtered = await c.get(`/console/audit?organization=${org.id}&pfa=PFA-EVEN&event=conflict.resolved`);
    const shown = filtered.body.match(/id="audit-/g)!.length;
    expect(shown).toBe(10); // i even and a multiple of 3: 0, 6, ..., 54
    const csvHref = /href="(\/console\/audit\/export\?[^"]*format=csv)"/
      .exec(filtered.body)![1]!
      .replace(/&amp;/g, '&');
    expect(csvHref).toContain('pfa=PFA-EVEN');
    const csv = await c.get(csvHref);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    expect(csv.body.trim().split('\n')).toHaveLength(1 + shown);
    const nd = await c.get(csvHref.replace('format=csv', 'format=ndjson'));
    const rows = nd.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows).toHaveLength(shown);
    expect(rows.every((r) => r.pfaId === 'PFA-EVEN' && r.eventType === 'conflict.resolved')).toBe(true);

    const byActor = await c.get(`/console/audit?organization=${org.id}&actor=${org.admin1}`);
    expect(byActor.body.match(/id="audit-/g)).toHaveLength(5);
    const bad = await c.get(`/console/audit?from=yesterday`);
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('from must be a day written YYYY-MM-DD');
    const today = new Date().toISOString().slice(0, 10);
    expect(
      (await c.get(`/console/audit?organization=${org.id}&from=${today}&to=${today}&actor=${org.admin1}`)).body.match(
        /id="audit-/g,
      ),
    ).toHaveLength(5);
  });

  it('verifies the chain, and names the first broken entry after tampering', async () => {
    const c = new ConsoleClient(h.url);
    await c.signInWithToken(await token(org.reader));
    const ok = await c.get(`/console/audit/verify?organization=${org.id}`);
    expect(ok.body).toContain(
      `The chain of ${org.id} holds: 60 entries checked, and the chain head matches the last entry.`,
    );
    const victim = await h.db('audit_log').where({ organization_id: org.id }).orderBy('id').offset(20).first('id');
    await h.db.transaction(async (tx) => {
      await tx.raw('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
      await tx('audit_log')
        .where({ id: victim.id })
        .update({ details: JSON.stringify({ n: 'forged' }) });
      await tx.raw('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
    });
    const broken = await c.get(`/console/audit/verify?organization=${org.id}`);
    expect(broken.body).toContain(`The chain of ${org.id} is broken. First broken entry: ${victim.id} at`);
    expect(broken.body).toContain('its content does not match its hash');
  });
});
