/**
 * Timeline and rollback screens over real HTTP: the timeline's kinds and filter, a foreign
 * organization's record not disclosed, a rollback request needing perm_Sync and a reason, the
 * requester's Approve disabled with the four-eyes rule and refused by the server, a
 * non-administrator's Approve disabled, and a rejection needing a reason.
 */
import { createOrg, harness, pfaRecord, seedVersions, token, type Harness, type TestOrg } from '../control-api/harness';
import { ConsoleClient } from './client';

describe('console: record timeline and rollbacks', () => {
  let h: Harness;
  let org: TestOrg;
  let other: TestOrg;

  beforeAll(async () => {
    h = await harness({ config: { console: { secureCookies: false } } });
    org = await createOrg(h.db, 'CRBK');
    other = await createOrg(h.db, 'CRBX');
    await seedVersions(h.db, [
      pfaRecord(org.id, 'PFA-R1', 1, { notes: 'one' }),
      pfaRecord(org.id, 'PFA-R1', 2, { notes: 'two' }),
    ]);
    await h.db('pfa_modification').insert({
      organization_id: org.id,
      pfa_id: 'PFA-R1',
      user_id: org.syncer,
      delta: JSON.stringify({ notes: 'two' }),
      base_version: 1,
      sync_status: 'synced',
      pems_version_after: 2,
      committed_at: new Date(),
      synced_at: new Date(),
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("shows the timeline in time order with its kinds, filters it in the URL, and hides another organization's record", async () => {
    const c = new ConsoleClient(h.url);
    await c.signInWithToken(await token(org.reader));
    const t = await c.get(`/console/records/${org.id}/PFA-R1`);
    expect(t.status).toBe(200);
    expect(t.body.match(/data-kind="version"/g)).toHaveLength(2);
    expect(t.body.match(/data-kind="edit"/g)).toHaveLength(1);
    expect(t.body.indexOf('PEMS version 1')).toBeLessThan(t.body.indexOf('PEMS version 2'));
    expect(t.body).toContain('applied as PEMS version 2');
    const only = await c.get(`/console/records/${org.id}/PFA-R1?kind=edit`);
    expect(only.body).not.toContain('data-kind="version"');
    expect(only.body).toContain('<input type="checkbox" name="kind" value="edit" checked/>');
    const outsider = new ConsoleClient(h.url);
    await outsider.signInWithToken(await token(other.reader));
    expect((await outsider.get(`/console/records/${org.id}/PFA-R1`)).status).toBe(404);
  });

  it('needs perm_Sync and a reason to request, and enforces four eyes on approval', async () => {
    const reader = new ConsoleClient(h.url);
    await reader.signInWithToken(await token(org.reader));
    const rp = await reader.get(`/console/records/${org.id}/PFA-R1/rollback?version=1`);
    expect(rp.body).toContain(`requesting a rollback needs perm_Sync in ${org.id}`);
    expect(rp.body).toContain('<tr data-field="notes"><th scope="row">notes</th><td>two</td><td>one</td></tr>');
    const csrfR = ConsoleClient.field(rp.body, '_csrf');
    expect(
      (await reader.post(`/console/records/${org.id}/PFA-R1/rollback`, { _csrf: csrfR, version: '1', reason: 'x' }))
        .status,
    ).toBe(403);

    const a1 = new ConsoleClient(h.url);
    await a1.signInWithToken(await token(org.admin1));
    const page = await a1.get(`/console/records/${org.id}/PFA-R1/rollback?version=1`);
    const csrf = ConsoleClient.field(page.body, '_csrf');
    const noReason = await a1.post(`/console/records/${org.id}/PFA-R1/rollback`, {
      _csrf: csrf,
      version: '1',
      reason: ' ',
    });
    expect(noReason.status).toBe(400);
    expect(noReason.body).toContain('A rollback needs a reason');
    const made = await a1.post(`/console/records/${org.id}/PFA-R1/rollback`, {
      _csrf: csrf,
      version: '1',
      reason: 'mistake',
    });
    expect(made.status).toBe(303);
    const url = made.headers.get('location')!;
    const mine = await a1.get(url);
    expect(mine.body).toContain(
      '<button type="button" id="approve" class="button" disabled aria-describedby="approve-why">Approve</button>',
    );
    expect(mine.body).toContain('four eyes — a different administrator must approve it');
    const self = await a1.post(`${url}/approve`, { _csrf: csrf });
    expect(self.status).toBe(403);
    expect(self.body).toContain('approved by an administrator other than the one who requested it');

    const syncer = new ConsoleClient(h.url);
    await syncer.signInWithToken(await token(org.syncer));
    expect((await syncer.get(url)).body).toContain(`approving needs an administrator of ${org.id}`);

    const a2 = new ConsoleClient(h.url);
    await a2.signInWithToken(await token(org.admin2));
    const p2 = await a2.get(url);
    const csrf2 = ConsoleClient.field(p2.body, '_csrf');
    const rejectNoReason = await a2.post(`${url}/reject`, { _csrf: csrf2, reason: '' });
    expect(rejectNoReason.status).toBe(400);
    expect(rejectNoReason.body).toContain('Rejecting needs a reason.');
    // The approval carries the preview hash of the differences the page showed; another is refused
    // and nothing is written.
    const shown = ConsoleClient.field(p2.body, 'previewHash');
    expect(shown).toMatch(/^[0-9a-f]{64}$/);
    const other = await a2.post(`${url}/approve`, { _csrf: csrf2, previewHash: '0'.repeat(64), reason: 'ok' });
    expect(other.status).toBe(409);
    expect(other.body).toContain('approve what the request shows');
    expect(
      (
        await h
          .db('rollback_request')
          .where({ id: url.split('/').pop()! })
          .first()
      ).status,
    ).toBe('pending');
    expect((await a2.post(`${url}/approve`, { _csrf: csrf2, previewHash: shown, reason: 'ok' })).status).toBe(303);
    const id = url.split('/').pop()!;
    const row = await h.db('rollback_request').where({ id }).first();
    expect(row).toMatchObject({ status: 'approved', decided_by: org.admin2 });
    const list = await a2.get('/console/rollbacks?status=approved');
    expect(list.body).toContain(`href="/console/rollbacks/${id}"`);
  });
});
