/**
 * Notifications over real HTTP: the unread count in the navigation and live over SSE, deep
 * links to the exact conflict or edit, mark read one by one and all, and only my own.
 */
import { createOrg, harness, seedConflict, token, type Harness, type TestOrg } from '../control-api/harness';
import { ConsoleClient } from './client';

describe('console: notifications', () => {
  let h: Harness;
  let org: TestOrg;

  beforeAll(async () => {
    h = await harness({ config: { console: { secureCookies: false, liveIntervalMs: 300 } } });
    org = await createOrg(h.db, 'CNOT');
  });
  afterAll(async () => {
    await h?.close();
  });

  it('links each notification to its conflict or edit, counts the unread ones live, and marks them read', async () => {
    const { conflictId, modificationId } = await seedConflict(h.db, {
      org: org.id,
      pfaId: 'PFA-N1',
      userId: org.syncer,
      delta: { notes: 'x' },
      baseVersion: 1,
      pemsVersion: 2,
      fields: [{ field: 'notes', base: 'a', local: 'x', pems: 'b' }],
    });
    const [rej] = await h.db('pfa_modification').insert(
      {
        organization_id: org.id,
        pfa_id: 'PFA-N2',
        user_id: org.syncer,
        delta: JSON.stringify({ dor: 'X' }),
        base_version: 1,
        sync_status: 'rejected',
        committed_at: new Date(),
      },
      ['id'],
    );
    const [n1] = await h.db('notification').insert(
      {
        organization_id: org.id,
        user_id: org.syncer,
        kind: 'conflict',
        payload: JSON.stringify({ modificationId, pfaId: 'PFA-N1', fields: ['notes'] }),
      },
      ['id'],
    );
    await h.db('notification').insert({
      organization_id: org.id,
      user_id: org.syncer,
      kind: 'rejected',
      payload: JSON.stringify({
        modificationId: rej.id,
        pfaId: 'PFA-N2',
        error: { message: 'dor must be one of BEO, PROJECT' },
      }),
    });
    await h.db('notification').insert({
      organization_id: org.id,
      user_id: org.admin1,
      kind: 'failed',
      payload: JSON.stringify({ pfaId: 'NOT-MINE' }),
    });

    const c = new ConsoleClient(h.url);
    await c.signInWithToken(await token(org.syncer));
    const page = await c.get('/console/notifications');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<span id="unread-count" class="count">(2 unread)</span>');
    expect(page.body).toContain(`<a href="/console/conflicts/${conflictId}">Open the conflict</a>`);
    expect(page.body).toContain(`<a href="/console/search?q=${rej.id}">Open the edit</a>`);
    expect(page.body).toContain('Your edit of PFA-N2 was rejected: dor must be one of BEO, PROJECT.');
    expect(page.body).not.toContain('NOT-MINE');

    // The live count: 2 now, 1 after marking one read.
    const ctrl = new AbortController();
    const res = await fetch(`${h.url}/console/notifications/live`, {
      headers: { cookie: `pems_console_session=${c.cookies.get('pems_console_session')}` },
      signal: ctrl.signal,
    });
    const reader = res.body!.getReader();
    let text = '';
    const until = async (re: RegExp): Promise<void> => {
      while (!re.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    };
    await until(/event: unread\ndata: 2\n/);
    const csrf = ConsoleClient.field(page.body, '_csrf');
    expect((await c.post(`/console/notifications/${n1.id}/read`, { _csrf: csrf })).status).toBe(303);
    await until(/event: unread\ndata: 1\n/);
    ctrl.abort();

    const unreadOnly = await c.get('/console/notifications?unread=1');
    expect(unreadOnly.body).not.toContain(`id="notification-${n1.id}"`);
    expect((await c.post('/console/notifications/read-all', { _csrf: csrf })).status).toBe(303);
    const after = await c.get('/console/notifications');
    expect(after.body).toContain('(0 unread)');
    // Someone else's notification cannot be marked by me.
    const theirs = await h.db('notification').where({ user_id: org.admin1 }).first('id');
    expect((await c.post(`/console/notifications/${theirs.id}/read`, { _csrf: csrf })).status).toBe(404);
  });
});
