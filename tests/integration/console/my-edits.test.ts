/**
 * "My edits" over real HTTP: only the signed-in user's edits, each with where it is in words
 * and times, the summary line, filters and the page cursor in the URL, a bad filter answered
 * with a page that names it, and an edit being retried with its attempt and next retry time.
 * Rows are written the way Vanguard and the sink write them (the claim sets updated_at, every
 * send stores the write-ahead intent first).
 */
import { createOrg, harness, token, type Harness, type TestOrg } from '../control-api/harness';
import { ConsoleClient } from './client';

describe('console: my edits', () => {
  let h: Harness;
  let org: TestOrg;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    h = await harness({
      config: {
        console: { secureCookies: false },
        retry: { delaysMs: [5000, 10000, 20000], jitter: 0.2 },
        pems: { timeoutMs: 30000 },
      },
    });
    org = await createOrg(h.db, 'CMYE');
    const base = {
      organization_id: org.id,
      user_id: org.syncer,
      base_version: 4,
      delta: JSON.stringify({ notes: 'n' }),
    };
    const t = (minAgo: number): Date => new Date(Date.now() - minAgo * 60_000);
    const rows = [
      { key: 'waiting', pfa_id: 'PFA-W', sync_status: 'committed', committed_at: t(3), created_at: t(3) },
      { key: 'sending', pfa_id: 'PFA-S', sync_status: 'syncing', committed_at: t(4), created_at: t(4) },
      {
        key: 'applied',
        pfa_id: 'PFA-A',
        sync_status: 'synced',
        pems_version_after: 5,
        committed_at: t(5),
        synced_at: t(4),
        created_at: t(5),
      },
      { key: 'conflict', pfa_id: 'PFA-C', sync_status: 'conflict', committed_at: t(6), created_at: t(6) },
      {
        key: 'rejected',
        pfa_id: 'PFA-R',
        sync_status: 'rejected',
        committed_at: t(7),
        created_at: t(7),
        sync_error: JSON.stringify({
          code: 'VALIDATION_FAILED',
          message: 'PEMS refused',
          fieldErrors: [{ field: 'quantity', message: 'must be at least 1' }],
        }),
      },
      {
        key: 'failed',
        pfa_id: 'PFA-F',
        sync_status: 'failed',
        committed_at: t(8),
        created_at: t(8),
        sync_error: JSON.stringify({ code: 'RETRIES_EXHAUSTED', message: 'PEMS answered 503 five times' }),
      },
    ];
    for (const { key, ...r } of rows) {
      const [row] = await h.db('pfa_modification').insert({ ...base, ...r }, ['id']);
      ids[key] = row.id;
    }
    // Someone else's edit in the same organization is not "mine".
    const [other] = await h
      .db('pfa_modification')
      .insert(
        { ...base, user_id: org.admin1, pfa_id: 'PFA-OTHER', sync_status: 'committed', committed_at: new Date() },
        ['id'],
      );
    ids.other = other.id;
  });
  afterAll(async () => {
    await h?.close();
  });

  it('lists only my edits, newest first, each with where it is in words', async () => {
    const c = new ConsoleClient(h.url);
    await c.signInWithToken(await token(org.syncer));
    const p = await c.get('/console/my-edits');
    expect(p.status).toBe(200);
    expect(p.body).toContain('<a href="/console/my-edits" aria-current="page"><span>My edits</span></a>');
    expect(p.body).not.toContain(ids.other);
    const order = ['waiting', 'sending', 'applied', 'conflict', 'rejected', 'failed'].map((k) =>
      p.body.indexOf(`id="edit-${ids[k]}"`),
    );
    expect(order.every((i) => i > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    const row = (k: string): string => p.body.slice(p.body.indexOf(`id="edit-${ids[k]}"`)).split('</tr>')[0]!;
    expect(row('waiting')).toContain('committed, waiting for the sink');
    expect(row('sending')).toContain('sending to PEMS (claimed');
    expect(row('applied')).toContain('applied as PEMS version 5');
    expect(row('conflict')).toContain('conflict: PEMS changed the record after version 4; it needs a person');
    expect(row('rejected')).toContain('<li>quantity: must be at least 1</li>');
    expect(row('failed')).toContain('failed: an operator is on it (PEMS answered 503 five times)');
    expect(p.body).toContain('2 of your edits are on the way to PEMS; the oldest was committed');
    expect(p.body).toContain('Applied 1 · conflicts 1 · rejected 1 · failed 1.');
  });

  it('filters by stage and PFA in the URL, pages with a cursor, and names a bad filter', async () => {
    const c = new ConsoleClient(h.url);
    await c.signInWithToken(await token(org.syncer));
    const waiting = await c.get('/console/my-edits?stage=waiting');
    expect(waiting.body).toContain(`id="edit-${ids.waiting}"`);
    expect(waiting.body).toContain(`id="edit-${ids.sending}"`);
    expect(waiting.body).not.toContain(`id="edit-${ids.applied}"`);
    expect(waiting.body).toContain('<option value="waiting" selected>');
    const byPfa = await c.get('/console/my-edits?pfa=PFA-R');
    expect(byPfa.body.match(/id="edit-/g)).toHaveLength(1);
    const none = await c.get('/console/my-edits?pfa=PFA-NOPE');
    expect(none.body).toContain('None of your edits matches these filters.');
    const bad = await c.get('/console/my-edits?stage=lost');
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('stage must be one of waiting, applied, conflict, rejected, failed, superseded');
    const badCursor = await c.get('/console/my-edits?before=yesterday');
    expect(badCursor.status).toBe(400);
    expect(badCursor.body).toContain('the page cursor (before) is not one this console made');

    // A cursor after the third edit gives the three older ones.
    const first = await c.get('/console/my-edits');
    const applied = await h.db('pfa_modification').where({ id: ids.applied }).first('created_at');
    const older = await c.get(
      `/console/my-edits?before=${encodeURIComponent(`${new Date(applied.created_at).toISOString()}_${ids.applied}`)}`,
    );
    expect(first.body).toContain(`id="edit-${ids.applied}"`);
    expect(older.body).not.toContain(`id="edit-${ids.applied}"`);
    expect(older.body.match(/id="edit-/g)).toHaveLength(3);
  });

  it('tells a user with no edits that there are none', async () => {
    const c = new ConsoleClient(h.url);
    await c.signInWithToken(await token(org.reader));
    const p = await c.get('/console/my-edits');
    expect(p.body).toContain('You have not committed any edit yet.');
    expect(p.body).toContain('None of your edits is waiting');
  });
  it("shows an edit being retried as sending with its attempt number and the next retry time, from the claim and the sink's latest send", async () => {
    const now = Date.now();
    const ago = (s: number): Date => new Date(now - s * 1000);
    const base = {
      organization_id: org.id,
      user_id: org.admin1,
      base_version: 4,
      delta: JSON.stringify({ notes: 'retry me' }),
      sync_status: 'syncing',
    };
    const cases = [
      // claimed 20 s ago, the latest send 3 s ago: past 5 s and 15 s (less 20 % jitter) → attempt 3, next after 20 s
      { key: 'third', claimed: 20, sent: 3, attempts: 0 },
      // a replay of an edit that failed after 4 attempts, sent once since its claim → attempt 5, next after 5 s
      { key: 'replayed', claimed: 1, sent: 1, attempts: 4 },
      // sent 39 s after the claim: the fourth and last try
      { key: 'last', claimed: 40, sent: 1, attempts: 0 },
      // attempt 3 sent two minutes ago and nothing since: the sink is waiting for PEMS
      { key: 'overdue', claimed: 135, sent: 120, attempts: 0 },
    ];
    const row: Record<string, { id: string; sent: Date }> = {};
    for (const c of cases) {
      const [m] = await h.db('pfa_modification').insert(
        {
          ...base,
          pfa_id: `PFA-RETRY-${c.key}`,
          attempts: c.attempts,
          committed_at: ago(c.claimed + 1),
          created_at: ago(c.claimed + 1),
          updated_at: ago(c.claimed),
        },
        ['id'],
      );
      await h.db('pems_write_intent').insert({
        idempotency_key: `test-${m.id}`,
        organization_id: org.id,
        pfa_id: `PFA-RETRY-${c.key}`,
        modification_ids: [m.id],
        item: JSON.stringify({ pfaId: `PFA-RETRY-${c.key}` }),
        created_at: ago(c.sent),
      });
      row[c.key] = { id: m.id, sent: ago(c.sent) };
    }
    const c = new ConsoleClient(h.url);
    await c.signInWithToken(await token(org.admin1));
    const p = await c.get('/console/my-edits?stage=waiting');
    expect(p.status).toBe(200);
    const cell = (k: string): string => p.body.slice(p.body.indexOf(`id="edit-${row[k]!.id}"`)).split('</tr>')[0]!;
    const iso = (k: string, plusMs: number): string => new Date(row[k]!.sent.getTime() + plusMs).toISOString();
    expect(cell('third')).toContain('sending to PEMS (attempt 3, sent');
    expect(cell('third')).toContain(`<time datetime="${iso('third', 0)}"`);
    expect(cell('third')).toContain(`, next retry at <time datetime="${iso('third', 20_000)}"`);
    expect(cell('third')).toContain('± 4 s if it fails)');
    expect(cell('replayed')).toContain('sending to PEMS (attempt 5, sent');
    expect(cell('replayed')).toContain(`next retry at <time datetime="${iso('replayed', 5_000)}"`);
    expect(cell('replayed')).toContain('± 1 s if it fails)');
    expect(cell('last')).toContain('sending to PEMS (attempt 4, sent');
    expect(cell('last')).toContain('the last attempt: if it fails an operator is told');
    expect(cell('last')).not.toContain('next retry');
    expect(cell('overdue')).toContain('sending to PEMS (attempt 3, sent');
    expect(cell('overdue')).toContain('no answer yet: the sink is waiting for PEMS, and waiting spends no attempt');
    // Search shows the same words.
    const s = await c.get(`/console/search?q=${row.third!.id}`);
    expect(s.body).toContain('sending to PEMS (attempt 3, sent');
  });
});
