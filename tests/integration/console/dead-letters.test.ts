/**
 * The dead-letter screens over real HTTP: grouped by cause with counts, the detail (original
 * edit, context headers, every PEMS attempt with its answer), the replay preview from PEMS's
 * history ("would conflict on notes"), replay of one and of many with a result per item,
 * discard refused without a reason, and a reader's disabled actions with the server's 403.
 */
import { appendAudit } from '../../../connectors/postgres/audit';
import { createOrg, harness, pfaRecord, seedVersions, token, type Harness, type TestOrg } from '../control-api/harness';
import { testEnv } from '../../support/env';
import { ConsoleClient } from './client';

describe('console: dead letters', () => {
  let h: Harness;
  let org: TestOrg;
  let offset = (Date.now() % 1_000_000_000) * 100 + 7;

  beforeAll(async () => {
    h = await harness({ config: { console: { secureCookies: false } } });
    org = await createOrg(h.db, 'CDLQ');
  });
  afterAll(async () => {
    await h?.close();
  });

  async function seed(
    pfaId: string,
    code = 'PEMS_SYNC_PEMS_TRANSIENT',
    delta: Record<string, unknown> = { notes: 'mine' },
  ): Promise<{ modificationId: string; deadLetterId: string }> {
    const [mod] = await h
      .db('pfa_modification')
      .insert({
        organization_id: org.id,
        pfa_id: pfaId,
        user_id: org.syncer,
        delta: JSON.stringify(delta),
        base_version: 3,
        sync_status: 'failed',
        committed_at: new Date(),
        attempts: 2,
        sync_error: JSON.stringify({ code, message: '503' }),
      })
      .returning('id');
    await appendAudit(
      h.db,
      [1, 2].map((attempt) => ({
        organizationId: org.id,
        pfaId,
        modificationId: mod.id,
        actor: org.syncer,
        eventType: 'sync.write',
        details: { attempt, at: new Date().toISOString(), version: 3, result: 'transient' },
        pemsResponse: { error: 'UNAVAILABLE', attempt },
      })),
    );
    const [dl] = await h
      .db('dead_letter')
      .insert({
        organization_id: org.id,
        pfa_id: pfaId,
        modification_id: mod.id,
        source_topic: testEnv.cdcTopic,
        source_partition: 2,
        source_offset: (offset += 1),
        record_key: Buffer.from(JSON.stringify({ organization_id: org.id, pfa_id: pfaId })),
        record_value: Buffer.from('{"op":"u"}'),
        record_headers: JSON.stringify({ '__connect.errors.exception.message': 'gave up after 2 attempts' }),
        reason: `PEMS unavailable (${code})`,
        error_code: code,
        error: JSON.stringify({ message: '503 Service Unavailable' }),
      })
      .returning('id');
    return { modificationId: mod.id, deadLetterId: dl.id };
  }

  it("groups by cause with counts and shows the edit, the headers, every attempt with PEMS's answer and a replay preview", async () => {
    const a = await seed('PFA-D1');
    await seed('PFA-D2');
    await seed('PFA-D3', 'PEMS_SYNC_PEMS_REJECTED');
    // PEMS history: base v3, now v4 with a different note: replaying would conflict on notes.
    await seedVersions(h.db, [
      pfaRecord(org.id, 'PFA-D1', 3, { notes: 'base' }),
      pfaRecord(org.id, 'PFA-D1', 4, { notes: 'PEMS changed it' }),
    ]);
    const c = new ConsoleClient(h.url);
    await c.signInWithToken(await token(org.syncer));
    const list = await c.get(`/console/dead-letters?organization=${org.id}`);
    expect(list.status).toBe(200);
    expect(list.body).toMatch(/PEMS_SYNC_PEMS_TRANSIENT<\/a> <strong>2<\/strong>/);
    expect(list.body).toMatch(/PEMS_SYNC_PEMS_REJECTED<\/a> <strong>1<\/strong>/);
    const byCause = await c.get(`/console/dead-letters?organization=${org.id}&cause=PEMS_SYNC_PEMS_REJECTED`);
    expect(byCause.body.match(/name="ids"/g)).toHaveLength(1);

    const d = await c.get(`/console/dead-letters/${a.deadLetterId}`);
    expect(d.status).toBe(200);
    expect(d.body).toContain('<dt>changes</dt><dd><code>{&#34;notes&#34;:&#34;mine&#34;}</code></dd>');
    expect(d.body).toContain('<dt>__connect.errors.exception.message</dt><dd>gave up after 2 attempts</dd>');
    expect(d.body).toContain(`${testEnv.cdcTopic} partition 2 offset`);
    expect(d.body.match(/&#34;error&#34;:&#34;UNAVAILABLE&#34;/g)).toHaveLength(2);
    expect(d.body).toContain('PEMS is now at version 4; replaying would conflict on notes.');
  });

  it('replays one, replays many with a result per item, refuses a discard without a reason or by a non-administrator', async () => {
    const one = await seed('PFA-D4');
    const two = await seed('PFA-D5');
    const three = await seed('PFA-D6');
    const c = new ConsoleClient(h.url);
    await c.signInWithToken(await token(org.syncer));
    const page = await c.get(`/console/dead-letters/${one.deadLetterId}`);
    const csrf = ConsoleClient.field(page.body, '_csrf');
    expect(
      (await c.post(`/console/dead-letters/${one.deadLetterId}/replay`, { _csrf: csrf, reason: 'PEMS is back' }))
        .status,
    ).toBe(303);
    expect(await h.db('pfa_modification').where({ id: one.modificationId }).first()).toMatchObject({
      sync_status: 'committed',
    });
    expect((await c.get(`/console/dead-letters/${one.deadLetterId}`)).body).toContain(
      `This dead letter is replayed by ${org.syncer}: PEMS is back.`,
    );

    // Many: one already replayed, two open: a result for each.
    const body = new URLSearchParams([
      ['_csrf', csrf],
      ['ids', one.deadLetterId],
      ['ids', two.deadLetterId],
      ['ids', three.deadLetterId],
    ]);
    const res = await fetch(`${h.url}/console/dead-letters/replay`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        cookie: `pems_console_session=${c.cookies.get('pems_console_session')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: body.toString(),
    });
    const html = await res.text();
    expect(res.status).toBe(200);
    const result = (id: string): string => html.slice(html.indexOf(`id="result-${id}"`)).split('</tr>')[0]!;
    expect(result(one.deadLetterId)).toContain('refused (409)');
    expect(result(one.deadLetterId)).toContain('is replayed, not open');
    expect(result(two.deadLetterId)).toContain(`replayed: edit ${two.modificationId} is committed again`);
    expect(result(three.deadLetterId)).toContain('data-ok="true"');

    const four = await seed('PFA-D7');
    const noReason = await c.post(`/console/dead-letters/${four.deadLetterId}/discard`, { _csrf: csrf, reason: '  ' });
    expect(noReason.status).toBe(400);
    expect(noReason.body).toContain('Discarding needs a reason');
    expect((await h.db('dead_letter').where({ id: four.deadLetterId }).first()).status).toBe('open');
    // Discarding drops the work for good: a syncer sees the button disabled with the rule, and the server refuses it.
    const syncerPage = await c.get(`/console/dead-letters/${four.deadLetterId}`);
    expect(syncerPage.body).toContain('discarding needs an administrator of');
    expect(
      (
        await c.post(`/console/dead-letters/${four.deadLetterId}/discard`, {
          _csrf: csrf,
          reason: 'duplicate of a later edit',
        })
      ).status,
    ).toBe(403);
    expect((await h.db('dead_letter').where({ id: four.deadLetterId }).first()).status).toBe('open');
    const admin = new ConsoleClient(h.url);
    await admin.signInWithToken(await token(org.admin1));
    const adminCsrf = ConsoleClient.field(
      (await admin.get(`/console/dead-letters/${four.deadLetterId}`)).body,
      '_csrf',
    );
    expect(
      (
        await admin.post(`/console/dead-letters/${four.deadLetterId}/discard`, {
          _csrf: adminCsrf,
          reason: 'duplicate of a later edit',
        })
      ).status,
    ).toBe(303);
    expect(await h.db('dead_letter').where({ id: four.deadLetterId }).first()).toMatchObject({
      status: 'discarded',
      resolution_reason: 'duplicate of a later edit',
      resolved_by: org.admin1,
    });
  });

  it('shows a reader the actions disabled with the reason, and the server refuses them', async () => {
    const x = await seed('PFA-D8');
    const c = new ConsoleClient(h.url);
    await c.signInWithToken(await token(org.reader));
    const page = await c.get(`/console/dead-letters/${x.deadLetterId}`);
    expect(page.body).toContain(
      '<button type="button" id="replay" class="button" disabled aria-describedby="replay-why">Replay</button>',
    );
    expect(page.body).toContain(`replaying and discarding need perm_Sync in ${org.id}`);
    const forced = await c.post(`/console/dead-letters/${x.deadLetterId}/replay`, {
      _csrf: ConsoleClient.field(page.body, '_csrf'),
    });
    expect(forced.status).toBe(403);
    expect((await h.db('dead_letter').where({ id: x.deadLetterId }).first()).status).toBe('open');
  });
});
