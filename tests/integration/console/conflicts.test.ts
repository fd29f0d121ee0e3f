/**
 * The conflict screens over real HTTP: the queue's filters in the URL, the detail's four
 * columns with non-conflicting fields merged and labelled, Mine/PEMS/Custom per conflicting
 * field, a custom value checked against PEMS's rules in the preview, the resolution made with
 * resolveConflict (as POST /conflicts/:id/resolve), a reader's disabled action and the server's
 * 403, and a refusal naming the new values when PEMS moved past the conflict's version.
 */
import { applyMirrorVersion } from '../../../connectors/postgres/mirror';
import {
  createOrg,
  harness,
  pfaRecord,
  seedConflict,
  seedVersions,
  token,
  type Harness,
  type TestOrg,
} from '../control-api/harness';
import { ConsoleClient } from './client';

describe('console: conflicts', () => {
  let h: Harness;
  let org: TestOrg;

  beforeAll(async () => {
    h = await harness({ config: { console: { secureCookies: false } } });
    org = await createOrg(h.db, 'CCON');
  });
  afterAll(async () => {
    await h?.close();
  });

  async function conflictOn(pfaId: string): Promise<{ conflictId: string; modificationId: string }> {
    // Base v3; PEMS v4 changed notes (as the user did) and description (the user did not).
    await seedVersions(h.db, [
      pfaRecord(org.id, pfaId, 3, { notes: 'base note', description: 'crane' }),
      pfaRecord(org.id, pfaId, 4, { notes: 'PEMS note', description: 'PEMS description' }),
    ]);
    return seedConflict(h.db, {
      org: org.id,
      pfaId,
      userId: org.syncer,
      baseVersion: 3,
      pemsVersion: 4,
      delta: { notes: 'my note', monthlyRate: 6000 },
      fields: [{ field: 'notes', base: 'base note', local: 'my note', pems: 'PEMS note' }],
      autoMerge: ['monthlyRate'],
    });
  }

  it('lists open conflicts with filters in the URL, and shows Base | Yours | PEMS now | Result with the merged fields labelled', async () => {
    const { conflictId } = await conflictOn('PFA-C1');
    const c = new ConsoleClient(h.url);
    await c.signInWithToken(await token(org.syncer));
    const queue = await c.get(`/console/conflicts?organization=${org.id}&field=notes`);
    expect(queue.status).toBe(200);
    expect(queue.body).toContain(`href="/console/conflicts/${conflictId}"`);
    expect(queue.body).toContain('<option value="open" selected>');
    expect((await c.get(`/console/conflicts?organization=${org.id}&field=dor`)).body).toContain(
      'No conflict matches these filters.',
    );
    expect((await c.get(`/console/conflicts?organization=${org.id}&author=someone-else`)).body).toContain(
      'No conflict matches these filters.',
    );
    expect((await c.get(`/console/conflicts?organization=${org.id}&age=7d`)).body).toContain(
      'No conflict matches these filters.',
    );
    const badAge = await c.get('/console/conflicts?age=forever');
    expect(badAge.status).toBe(400);
    expect(badAge.body).toContain('age must be one of 1h, 24h, 7d');

    const d = await c.get(`/console/conflicts/${conflictId}`);
    expect(d.status).toBe(200);
    const row = (field: string): string => d.body.slice(d.body.indexOf(`data-field="${field}"`)).split('</tr>')[0]!;
    expect(row('notes')).toContain('both changed this');
    expect(row('notes')).toContain('<td>base note</td><td>my note</td><td>PEMS note</td>');
    expect(row('notes')).toContain('name="choice_notes" value="custom"');
    expect(row('monthlyRate')).toContain('only you changed this');
    expect(row('monthlyRate')).toContain('6000 (merged: only you changed this)');
    expect(row('description')).toContain('only PEMS changed this');
    expect(row('description')).toContain('PEMS description (merged: only PEMS changed this)');
    expect(d.body).toContain('PEMS was at version 4</span><span>, changed by pems-user-4</span>');
  });

  it('previews a custom value against PEMS rules, then resolves with a merge carrying the PEMS version', async () => {
    const { conflictId, modificationId } = await conflictOn('PFA-C2');
    const c = new ConsoleClient(h.url);
    await c.signInWithToken(await token(org.syncer));
    const page = await c.get(`/console/conflicts/${conflictId}`);
    const csrf = ConsoleClient.field(page.body, '_csrf');

    const undecided = await c.post(`/console/conflicts/${conflictId}/preview`, { _csrf: csrf, pems_version: '4' });
    expect(undecided.status).toBe(400);
    expect(undecided.body).toContain('choose Mine, PEMS or Custom for notes');

    const preview = await c.post(`/console/conflicts/${conflictId}/preview`, {
      _csrf: csrf,
      pems_version: '4',
      choice_notes: 'custom',
      custom_notes: 'agreed note',
      reason: 'talked to the planner',
    });
    expect(preview.status).toBe(200);
    expect(preview.body).toContain('Result: agreed note');
    expect(preview.body).toContain('this resolves the conflict with merge, as a new edit on PEMS version 4');
    expect(preview.body).toContain('Confirm resolution');
    // Nothing is written by a preview.
    expect((await h.db('sync_conflict').where({ id: conflictId }).first()).status).toBe('open');

    const done = await c.post(`/console/conflicts/${conflictId}/resolve`, {
      _csrf: csrf,
      pems_version: '4',
      choice_notes: 'custom',
      custom_notes: 'agreed note',
      reason: 'talked to the planner',
    });
    expect(done.status).toBe(303);
    const conflict = await h.db('sync_conflict').where({ id: conflictId }).first();
    expect(conflict).toMatchObject({ status: 'resolved', resolution: 'merge', resolved_by: org.syncer });
    const created = await h.db('pfa_modification').where({ id: conflict.resolution_modification_id }).first();
    expect(created).toMatchObject({
      base_version: 4,
      sync_status: 'committed',
      origin: 'conflict_resolution',
      supersedes_id: modificationId,
      change_reason: 'talked to the planner',
    });
    expect(created.delta).toEqual({ notes: 'agreed note', monthlyRate: 6000 });
    const after = await c.get(`/console/conflicts/${conflictId}`);
    expect(after.body).toContain('This conflict is resolved (merge)');
    expect(after.body).toContain(conflict.resolution_modification_id);
  });

  it('refuses a custom value PEMS would refuse, naming the rule', async () => {
    await seedVersions(h.db, [pfaRecord(org.id, 'PFA-C3', 3), pfaRecord(org.id, 'PFA-C3', 4, { dor: 'BEO' })]);
    const { conflictId } = await seedConflict(h.db, {
      org: org.id,
      pfaId: 'PFA-C3',
      userId: org.syncer,
      baseVersion: 3,
      pemsVersion: 4,
      delta: { dor: 'PROJECT' },
      fields: [{ field: 'dor', base: 'PROJECT', local: 'PROJECT', pems: 'BEO' }],
    });
    const c = new ConsoleClient(h.url);
    await c.signInWithToken(await token(org.syncer));
    const page = await c.get(`/console/conflicts/${conflictId}`);
    const res = await c.post(`/console/conflicts/${conflictId}/preview`, {
      _csrf: ConsoleClient.field(page.body, '_csrf'),
      pems_version: '4',
      choice_dor: 'custom',
      custom_dor: 'MOON',
    });
    expect(res.status).toBe(400);
    expect(res.body).toContain('dor must be one of BEO, PROJECT');
    expect(res.body).not.toContain('Confirm resolution');
  });

  it('shows a reader the action disabled with the reason, and the server refuses it all the same', async () => {
    const { conflictId } = await conflictOn('PFA-C4');
    const c = new ConsoleClient(h.url);
    await c.signInWithToken(await token(org.reader));
    const page = await c.get(`/console/conflicts/${conflictId}`);
    expect(page.body).toContain(
      '<button type="button" id="preview" class="button" disabled aria-describedby="preview-why">Preview</button>',
    );
    expect(page.body).toContain(`resolving needs perm_Sync in ${org.id}; you can read this conflict only`);
    const forced = await c.post(`/console/conflicts/${conflictId}/resolve`, {
      _csrf: ConsoleClient.field(page.body, '_csrf'),
      pems_version: '4',
      choice_notes: 'mine',
    });
    expect(forced.status).toBe(403);
    expect((await h.db('sync_conflict').where({ id: conflictId }).first()).status).toBe('open');
  });

  it("refuses a resolution when PEMS moved past the conflict's version and shows the new values", async () => {
    const { conflictId } = await conflictOn('PFA-C5');
    const c = new ConsoleClient(h.url);
    await c.signInWithToken(await token(org.syncer));
    const page = await c.get(`/console/conflicts/${conflictId}`);
    // The read side sees PEMS at version 5 meanwhile.
    await applyMirrorVersion(h.db, {
      record: pfaRecord(org.id, 'PFA-C5', 5, { notes: 'PEMS moved on' }),
      origin: 'pems',
    });
    const res = await c.post(`/console/conflicts/${conflictId}/resolve`, {
      _csrf: ConsoleClient.field(page.body, '_csrf'),
      pems_version: '4',
      choice_notes: 'mine',
    });
    expect(res.status).toBe(409);
    expect(res.body).toContain('Refused: PEMS moved to version 5 after version 4');
    expect(res.body).toContain('<li>notes: PEMS moved on</li>');
    expect((await h.db('sync_conflict').where({ id: conflictId }).first()).status).toBe('open');
  });
});
